"""loops: schedule firings, per-event rollup, loop registry, funnel views

Revision ID: 0003_loops
Revises: 0002_loop_state
"""

from skene_cdc.migrations.sqlop import run_sql

revision = "0003_loops"
down_revision = "0002_loop_state"
branch_labels = None
depends_on = None


def upgrade() -> None:
    run_sql("migrations/0003_loops")


def downgrade() -> None:
    run_sql("migrations/0003_loops_down")
