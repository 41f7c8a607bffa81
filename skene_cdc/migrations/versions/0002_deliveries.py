"""deliveries: the outbox loops enqueue into and the sender drains

Revision ID: 0002_deliveries
Revises: 0001_foundation
"""

from skene_cdc.migrations.sqlop import run_sql

revision = "0002_deliveries"
down_revision = "0001_foundation"
branch_labels = None
depends_on = None


def upgrade() -> None:
    run_sql("migrations/0002_deliveries")


def downgrade() -> None:
    run_sql("migrations/0002_deliveries_down")
