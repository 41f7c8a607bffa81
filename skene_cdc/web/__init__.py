"""The HTTP endpoints skene answers (`skene-cdc serve`, or mounted in the app): the Stripe
webhook, one-click unsubscribe, and Resend's webhook."""

from skene_cdc.web.app import SkeneApp, resend_webhook_app, skene_app, unsubscribe_app

__all__ = ["SkeneApp", "resend_webhook_app", "skene_app", "unsubscribe_app"]
