"""PostgreSQL: one generated `contact.search_text` with one trigram index for the keyword search, instead of
the five per-column trigram indexes of 0002 (a no-op on SQLite, whose keyword search is plain LIKE).

Revision ID: 0007
Revises: 0006

`search_text` is the lower-cased first name, last name, full name, email and phone joined by a unit
separator (U+001F): a keyword without that character matches it exactly when it matches one of the fields
(contacts/filters.py). The database computes it on every INSERT and UPDATE, so no write path (the API,
imports, the inbound pipeline) can leave it stale. It is kept out of the models (migrations/env.py excludes
it). A stored column rather than an index on the expression: rechecking a candidate row then costs one LIKE
(about 0.5 us a row here), not the expression's five lower() calls (about 4 us a row).
"""

from __future__ import annotations

from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None

OLD_COLUMNS = ("first_name", "last_name", "email", "phone_number", "full_name")
SEARCHED = ("first_name", "last_name", "full_name", "email", "phone_number")
# Each field lowered on its own (not the joined text): lower() may look at a neighbouring character.
EXPRESSION = " || chr(31) || ".join(f"lower(coalesce({column}, ''))" for column in SEARCHED)


def upgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    op.execute(f"ALTER TABLE contact ADD COLUMN search_text text GENERATED ALWAYS AS ({EXPRESSION}) STORED")
    op.execute("CREATE INDEX ix_contact_search_trgm ON contact USING gin (search_text gin_trgm_ops)")
    for column in OLD_COLUMNS:
        op.execute(f"DROP INDEX IF EXISTS ix_contact_trgm_{column}")


def downgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    for column in OLD_COLUMNS:
        op.execute(
            f"CREATE INDEX IF NOT EXISTS ix_contact_trgm_{column} ON contact "
            f"USING gin (lower({column}) gin_trgm_ops)"
        )
    op.execute("DROP INDEX IF EXISTS ix_contact_search_trgm")
    op.execute("ALTER TABLE contact DROP COLUMN IF EXISTS search_text")
