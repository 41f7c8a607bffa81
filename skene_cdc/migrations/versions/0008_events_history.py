"""events history: skene.events partitioned by day, external-event dedup, quarantine

Revision ID: 0008_events_history
Revises: 0007_capture_queue
"""

from skene_cdc.migrations.sqlop import run_sql

revision = "0008_events_history"
down_revision = "0007_capture_queue"
branch_labels = None
depends_on = None


def upgrade() -> None:
    run_sql("migrations/0008_events_history")


def downgrade() -> None:
    run_sql("migrations/0008_events_history_down")
