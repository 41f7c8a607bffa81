"""freemium: external-id dedup on events, Stripe billing state on user_plans

Revision ID: 0006_freemium
Revises: 0005_logical
"""

from skene_cdc.migrations.sqlop import run_sql

revision = "0006_freemium"
down_revision = "0005_logical"
branch_labels = None
depends_on = None


def upgrade() -> None:
    run_sql("migrations/0006_freemium")


def downgrade() -> None:
    run_sql("migrations/0006_freemium_down")
