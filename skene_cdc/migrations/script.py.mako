"""${message}

Revision ID: ${up_revision}
Revises: ${down_revision | comma,n}
"""

from skene_cdc.migrations.sqlop import run_sql

revision = ${repr(up_revision)}
down_revision = ${repr(down_revision)}
branch_labels = None
depends_on = None


def upgrade() -> None:
    run_sql("migrations/${up_revision}")


def downgrade() -> None:
    run_sql("migrations/${up_revision}_down")
