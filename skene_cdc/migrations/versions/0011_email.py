"""email: opt-outs and suppressions, Resend events, frequency caps, quiet hours, holdouts

Revision ID: 0011_email
Revises: 0009_billing
"""

from skene_cdc.migrations.sqlop import run_sql

revision = "0011_email"
down_revision = "0009_billing"
branch_labels = None
depends_on = None


def upgrade() -> None:
    run_sql("migrations/0011_email")


def downgrade() -> None:
    run_sql("migrations/0011_email_down")
