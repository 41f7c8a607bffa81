"""email: the sender's lease index, a NOTIFY on enqueue, the skene.delivery_log view

Revision ID: 0004_email
Revises: 0003_loops
"""

from skene_cdc.migrations.sqlop import run_sql

revision = "0004_email"
down_revision = "0003_loops"
branch_labels = None
depends_on = None


def upgrade() -> None:
    run_sql("migrations/0004_email")


def downgrade() -> None:
    run_sql("migrations/0004_email_down")
