"""Stripe: the webhook that keeps skene.user_plans (and the gate's plan cache) in step with
subscriptions, and credits conversions to the freemium loop."""

from skene_cdc.billing.webhook import StripeWebhookApp, stripe_webhook_app

__all__ = ["StripeWebhookApp", "stripe_webhook_app"]
