"""A per-workspace contact counter kept exact by triggers, so an unfiltered contact list needs no count(*).

Revision ID: 0003
Revises: 0002

SQLite: row triggers. PostgreSQL: statement triggers over transition tables (one counter update per INSERT
statement, however many rows it writes). The table has no foreign key on purpose: a workspace's deletion
cascades to its contacts, and the triggers must not trip over the disappearing workspace row.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

PG_STATEMENTS = (
    """CREATE FUNCTION contact_count_added() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  INSERT INTO contact_count (workspace_id, n)
  SELECT workspace_id, count(*) FROM added GROUP BY workspace_id
  ON CONFLICT (workspace_id) DO UPDATE SET n = contact_count.n + EXCLUDED.n;
  RETURN NULL;
END $$""",
    """CREATE FUNCTION contact_count_removed() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  UPDATE contact_count c SET n = c.n - r.k
  FROM (SELECT workspace_id, count(*) AS k FROM removed GROUP BY workspace_id) r
  WHERE c.workspace_id = r.workspace_id;
  RETURN NULL;
END $$""",
    """CREATE TRIGGER contact_count_added AFTER INSERT ON contact
  REFERENCING NEW TABLE AS added FOR EACH STATEMENT EXECUTE FUNCTION contact_count_added()""",
    """CREATE TRIGGER contact_count_removed AFTER DELETE ON contact
  REFERENCING OLD TABLE AS removed FOR EACH STATEMENT EXECUTE FUNCTION contact_count_removed()""",
)

SQLITE_TRIGGERS = (
    """CREATE TRIGGER contact_count_added AFTER INSERT ON contact BEGIN
  INSERT INTO contact_count (workspace_id, n) VALUES (NEW.workspace_id, 1)
  ON CONFLICT (workspace_id) DO UPDATE SET n = n + 1;
END""",
    """CREATE TRIGGER contact_count_removed AFTER DELETE ON contact BEGIN
  UPDATE contact_count SET n = n - 1 WHERE workspace_id = OLD.workspace_id;
END""",
)


def upgrade() -> None:
    op.create_table(
        "contact_count",
        sa.Column("workspace_id", sa.BigInteger(), primary_key=True),
        sa.Column("n", sa.BigInteger(), nullable=False, server_default="0"),
    )
    op.execute(
        "INSERT INTO contact_count (workspace_id, n) "
        "SELECT workspace_id, count(*) FROM contact GROUP BY workspace_id"
    )
    for statement in PG_STATEMENTS if _pg() else SQLITE_TRIGGERS:
        op.execute(statement)


def downgrade() -> None:
    op.execute("DROP TRIGGER IF EXISTS contact_count_added" + (" ON contact" if _pg() else ""))
    op.execute("DROP TRIGGER IF EXISTS contact_count_removed" + (" ON contact" if _pg() else ""))
    if _pg():
        op.execute("DROP FUNCTION IF EXISTS contact_count_added()")
        op.execute("DROP FUNCTION IF EXISTS contact_count_removed()")
    op.drop_table("contact_count")


def _pg() -> bool:
    return op.get_bind().dialect.name == "postgresql"
