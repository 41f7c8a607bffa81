"""capture queue: three rotating queue tables, a capture trigger owned by a NOLOGIN role

Revision ID: 0007_capture_queue
Revises: 0006_freemium
"""

from skene_cdc.migrations.sqlop import run_sql

revision = "0007_capture_queue"
down_revision = "0006_freemium"
branch_labels = None
depends_on = None


def upgrade() -> None:
    run_sql("migrations/0007_capture_queue")


def downgrade() -> None:
    run_sql("migrations/0007_capture_queue_down")
