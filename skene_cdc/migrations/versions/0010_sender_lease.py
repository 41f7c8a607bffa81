"""sender lease: a delivery being sent names its sender, so a dead one is noticed at once

Revision ID: 0010_sender_lease
Revises: 0009_billing
"""

from skene_cdc.migrations.sqlop import run_sql

revision = "0010_sender_lease"
down_revision = "0009_billing"
branch_labels = None
depends_on = None


def upgrade() -> None:
    run_sql("migrations/0010_sender_lease")


def downgrade() -> None:
    run_sql("migrations/0010_sender_lease_down")
