"""Add created_at to User and Item

Revision ID: fe56fa70289e
Revises: e2412789c190
"""
import sqlalchemy as sa
from alembic import op

revision = "fe56fa70289e"
down_revision = "e2412789c190"
branch_labels = None
depends_on = None


def upgrade():
    op.add_column("item", sa.Column("created_at", sa.DateTime(timezone=True), nullable=True))
    op.add_column("user", sa.Column("created_at", sa.DateTime(timezone=True), nullable=True))


def downgrade():
    op.drop_column("user", "created_at")
    op.drop_column("item", "created_at")
