"""PostgreSQL: trigram indexes for the contacts keyword search (a no-op on SQLite).

Revision ID: 0002
Revises: 0001
"""

from __future__ import annotations

from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

COLUMNS = ("first_name", "last_name", "email", "phone_number", "full_name")


def upgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    op.execute("CREATE EXTENSION IF NOT EXISTS pg_trgm")
    for column in COLUMNS:
        op.execute(
            f"CREATE INDEX IF NOT EXISTS ix_contact_trgm_{column} ON contact "
            f"USING gin (lower({column}) gin_trgm_ops)"
        )


def downgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    for column in COLUMNS:
        op.execute(f"DROP INDEX IF EXISTS ix_contact_trgm_{column}")
