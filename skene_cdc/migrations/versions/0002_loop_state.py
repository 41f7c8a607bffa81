"""deliveries: the outbox loops enqueue into and the sender drains

Revision ID: 0002_loop_state
Revises: 0001_foundation
"""

from skene_cdc.migrations.sqlop import run_sql

revision = "0002_loop_state"
down_revision = "0001_foundation"
branch_labels = None
depends_on = None


def upgrade() -> None:
    run_sql("migrations/0002_loop_state")


def downgrade() -> None:
    run_sql("migrations/0002_loop_state_down")
