"""logical replication capture: dedup key on events, the listener's replication checkpoint

Revision ID: 0005_logical
Revises: 0004_email
"""

from skene_cdc.migrations.sqlop import run_sql

revision = "0005_logical"
down_revision = "0004_email"
branch_labels = None
depends_on = None


def upgrade() -> None:
    run_sql("migrations/0005_logical")


def downgrade() -> None:
    run_sql("migrations/0005_logical_down")
