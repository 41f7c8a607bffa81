"""loops: freemium deliveries numbered like every other loop's (issue 13)

Revision ID: 0010_loops
Revises: 0006_freemium
"""

from skene_cdc.migrations.sqlop import run_sql

revision = "0010_loops"
down_revision = "0006_freemium"
branch_labels = None
depends_on = None


def upgrade() -> None:
    run_sql("migrations/0010_loops")


def downgrade() -> None:
    run_sql("migrations/0010_loops_down")
