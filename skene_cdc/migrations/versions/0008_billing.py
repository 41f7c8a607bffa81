"""billing: Stripe's events, subscriptions and customer links; plans derived from them

Revision ID: 0008_billing
Revises: 0006_freemium
"""

from skene_cdc.migrations.sqlop import run_sql

revision = "0008_billing"
down_revision = "0006_freemium"
branch_labels = None
depends_on = None


def upgrade() -> None:
    run_sql("migrations/0008_billing")
    run_sql("migrations/0008_billing_seed")


def downgrade() -> None:
    run_sql("migrations/0008_billing_down")
