"""foundation: events, cursors, activity rollup, the generic capture function

Revision ID: 0001_foundation
Revises:
"""

from skene_cdc.migrations.sqlop import run_sql

revision = "0001_foundation"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    run_sql("migrations/0001_foundation")


def downgrade() -> None:
    run_sql("migrations/0001_foundation_down")
