"""`stripe.refetch: true`: on each event, read the subscriptions and customers it names back from
Stripe with the official SDK, and store that current state instead of the event's snapshot
(Stripe's own advice when order matters). Costs one API call per object per event, made
before the billing transaction so no lock waits on the network.

The SDK's base address is `stripe.api_base` (tests point it at a local server)."""

from __future__ import annotations

import logging
import time
from typing import Any

import stripe

from skene_cdc.billing.objects import EventReader, Fetched
from skene_cdc.billing.payload import make_storable
from skene_cdc.errors import SkeneError, first_line

log = logging.getLogger("skene.stripe")
TIMEOUT = 10.0  # seconds per API call; Stripe waits 20 s for the webhook's answer


class RefetchError(SkeneError):
    """Stripe's API could not be read: answer 500 so Stripe delivers the event again later."""


class Refetcher:
    def __init__(self, api_key: str, *, timeout: float = TIMEOUT) -> None:
        self.client = stripe.StripeClient(
            api_key, base_addresses={"api": stripe.api_base}, max_network_retries=1,
            http_client=stripe.new_default_http_client(timeout=timeout))

    def fetch(self, reader: EventReader, event: dict[str, Any]) -> Fetched:
        named = reader.named(event)
        # Stamped when read: newer than every event Stripe had sent by then.
        fetched = Fetched(at=max(int(time.time()), int(event["created"])))
        for sub_id in named.subscriptions:
            obj = self._get(self.client.v1.subscriptions.retrieve, sub_id, event)
            if obj is not None:
                fetched.subscriptions[sub_id] = obj
        if event["type"].startswith("customer.") and not event["type"].startswith(
                "customer.subscription."):
            for customer in named.customers:
                obj = self._get(self.client.v1.customers.retrieve, customer, event)
                if obj is not None:
                    fetched.customers[customer] = obj
        return fetched

    def _get(self, retrieve: Any, object_id: str, event: dict[str, Any]) -> dict[str, Any] | None:
        try:
            # for_json: the SDK decodes decimal strings (unit_amount_decimal) to Decimal.
            obj: dict[str, Any] = retrieve(object_id).to_dict(for_json=True)
            make_storable(obj)
            return obj
        except stripe.InvalidRequestError as exc:
            # 404: the object is gone (deleted test data); the event's own copy is all there is.
            log.warning("stripe: could not re-read %s for %s (%s); using the event's copy",
                        object_id, event["id"], first_line(exc))
            return None
        except stripe.StripeError as exc:
            raise RefetchError(f"could not re-read {object_id} from Stripe: {first_line(exc)}",
                               hint="Check stripe.api_key and Stripe's status; Stripe delivers "
                                    "the event again") from None

