"""email: opt-outs and suppressions, Resend events, frequency caps, quiet hours, holdouts

Revision ID: 0012_email
Revises: 0011_loops
"""

from skene_cdc.migrations.sqlop import run_sql

revision = "0012_email"
down_revision = "0011_loops"
branch_labels = None
depends_on = None


def upgrade() -> None:
    run_sql("migrations/0012_email")


def downgrade() -> None:
    run_sql("migrations/0012_email_down")
