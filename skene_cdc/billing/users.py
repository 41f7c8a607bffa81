"""Which of the app's users a Stripe reference names: `stripe.user_id_from` (what may be one),
the users table's id (is it a user?) and its Stripe customer column (whose customer is this?)."""

from __future__ import annotations

import re

import psycopg
from psycopg import sql as pgsql

from skene_cdc import sql
from skene_cdc.config import Config
from skene_cdc.config.types import split_table
from skene_cdc.db import Row
from skene_cdc.errors import ConfigError

CUSTOMER_COLUMN = "app.users.stripe_customer_id"
_METADATA_KEY = re.compile(r"^metadata\.[A-Za-z_][A-Za-z0-9_]*$")
# Fields Stripe fills with its own ids: naming one would store a Stripe id as the user id.
_STRIPE_IDS = {"customer", "id", "subscription", "invoice", "payment_intent", "price", "product",
               "latest_invoice", "default_payment_method", "account", "charge"}
USER_ID_FROM_FIX = ("set stripe.user_id_from to metadata.<key> (set on the Customer, "
                    "Subscription or Checkout Session), client_reference_id (Checkout), or "
                    "app.users.stripe_customer_id (with app.users.stripe_customer_id: <column>)")


def user_id_from_problem(source: str) -> str | None:
    """Why `stripe.user_id_from` cannot name the app's user id, or None when it can."""
    if source in (CUSTOMER_COLUMN, "client_reference_id") or _METADATA_KEY.match(source):
        return None
    if source.startswith("app."):
        return f"user_id_from {source!r}: the only app column it can name is {CUSTOMER_COLUMN}"
    if source == "metadata" or source.startswith("metadata."):
        return (f"user_id_from {source!r}: Stripe metadata is one level of string values, so "
                "the path is metadata.<key>")
    last = source.rsplit(".", 1)[-1]
    if source in _STRIPE_IDS or last == "id" or last in _STRIPE_IDS:
        return (f"user_id_from {source!r} names a field Stripe fills with its own ids "
                "(cus_..., sub_...), never your user's id: skene would take Stripe's id for a "
                "user id")
    return f"user_id_from {source!r} is not a field where Stripe carries your user id"


def check_stripe_config(config: Config) -> None:
    """Refuse (ConfigError) a stripe section the webhook cannot work with."""
    st = config.stripe
    if st is None:
        return
    problem = user_id_from_problem(st.user_id_from)
    if problem:
        raise ConfigError(problem, where=config.where("stripe", "user_id_from"),
                          hint="S" + USER_ID_FROM_FIX[1:])
    if st.user_id_from == CUSTOMER_COLUMN and not config.app.users.stripe_customer_id:
        raise ConfigError(f"user_id_from is {CUSTOMER_COLUMN} but app.users has no "
                          "stripe_customer_id column", where=config.where("stripe", "user_id_from"),
                          hint="Add `stripe_customer_id: <column>` under app.users")
    if st.refetch and not st.api_key:
        raise ConfigError("stripe.refetch re-reads objects from Stripe's API, which needs "
                          "stripe.api_key", where=config.where("stripe", "refetch"),
                          hint="Set `api_key: ${STRIPE_API_KEY}` (a restricted key with read "
                               "access to Customers and Subscriptions is enough)")


class UserDirectory:
    def __init__(self, config: Config) -> None:
        users = config.app.users
        schema, table = split_table(users.table)
        name = pgsql.Identifier(schema, table) if schema else pgsql.Identifier(table)
        self.table = users.table
        self.id_column = users.id
        self.by_id = pgsql.SQL(sql.load("billing/user_by_id")).format(
            id=pgsql.Identifier(users.id), table=name)
        self.by_customer = None if not users.stripe_customer_id else pgsql.SQL(
            sql.load("billing/user_by_customer_column")).format(
            id=pgsql.Identifier(users.id), table=name,
            column=pgsql.Identifier(users.stripe_customer_id))

    def resolve(self, conn: psycopg.Connection[Row], ref: str) -> tuple[str | None, str]:
        """(the user id, "") when `ref` is a user's id exactly as PostgreSQL prints it, else
        (None, why not)."""
        try:
            # A savepoint: a reference the id's type cannot hold must not end the transaction.
            with conn.transaction():
                row = conn.execute(self.by_id, {"ref": ref, "ref_text": ref}).fetchone()
        except psycopg.errors.DataError as exc:
            detail = exc.diag.message_primary or type(exc).__name__
            return None, f"not a valid {self.table}.{self.id_column} ({detail})"
        if row is None:
            return None, f"no user in {self.table} has {self.id_column} = {ref!r}"
        return str(row["user_id"]), ""

    def customer_owner(self, conn: psycopg.Connection[Row], customer: str) -> str | None:
        """The user whose stripe_customer_id column holds `customer`, if that column is set."""
        if self.by_customer is None:
            return None
        row = conn.execute(self.by_customer, {"customer": customer}).fetchone()
        return str(row["user_id"]) if row else None
