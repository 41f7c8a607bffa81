"""loops: freemium deliveries numbered like every other loop's (issue 13)

Revision ID: 0011_loops
Revises: 0010_sender_lease
"""

from skene_cdc.migrations.sqlop import run_sql

revision = "0011_loops"
down_revision = "0010_sender_lease"
branch_labels = None
depends_on = None


def upgrade() -> None:
    run_sql("migrations/0011_loops")


def downgrade() -> None:
    run_sql("migrations/0011_loops_down")
