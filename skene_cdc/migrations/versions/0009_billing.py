"""billing: Stripe's events, subscriptions and customer links; plans derived from them

Revision ID: 0009_billing
Revises: 0008_events_history
"""

from skene_cdc.migrations.sqlop import run_sql

revision = "0009_billing"
down_revision = "0008_events_history"
branch_labels = None
depends_on = None


def upgrade() -> None:
    run_sql("migrations/0009_billing")
    run_sql("migrations/0009_billing_seed")


def downgrade() -> None:
    run_sql("migrations/0009_billing_down")
