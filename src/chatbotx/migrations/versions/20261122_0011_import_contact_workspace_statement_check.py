"""PostgreSQL: contact's foreign key to its workspace becomes a statement-level check and cascade, as
contact_tag's keys did in 0009 (a no-op on SQLite).

Revision ID: 0011
Revises: 0010

Why: the key checked each inserted contact on its own (a lookup and a lock of the same workspace row, per
contact): 8 us of the 46 us of backend CPU a contact cost when COPYing 2,500 contacts and their 5,000 links a
transaction. Every contact of an import's batch is in one workspace: per statement, that is one probe and
one lock.

The guarantee stays the key's (no contact without its workspace, also against a concurrent delete):
- AFTER INSERT on contact, per statement: every workspace the new rows name must exist, else
  foreign_key_violation (23503); each is locked FOR KEY SHARE as the key's own check does, so a concurrent
  delete of the workspace waits for this transaction and then deletes its contacts (below), and a delete
  that came first makes this check fail. An UPDATE moving a contact to another workspace is checked per
  row, as before.
- AFTER DELETE on workspace, per statement: its contacts go too (ON DELETE CASCADE kept, and from there
  everything that cascades from a contact). As in 0009, only under READ COMMITTED (else
  serialization_failure): a REPEATABLE READ delete could not see contacts committed after its snapshot.
- An UPDATE of workspace.id that still has contacts is refused; TRUNCATE workspace truncates contact (with
  CASCADE, as the key made TRUNCATE ... CASCADE do).
"""

from __future__ import annotations

from alembic import op

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None

PG_UPGRADE = (
    "ALTER TABLE contact DROP CONSTRAINT fk_contact_workspace_id_workspace",
    """CREATE FUNCTION contact_workspace_check() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
  workspaces bigint[] := ARRAY(SELECT DISTINCT workspace_id FROM added);
  locked bigint;
BEGIN
  SELECT count(*) INTO locked
  FROM (SELECT 1 FROM workspace w WHERE w.id = ANY(workspaces) FOR KEY SHARE OF w) l;
  IF locked <> cardinality(workspaces) THEN
    RAISE foreign_key_violation USING
      MESSAGE = 'insert or update on table "contact" violates its reference to table "workspace"',
      DETAIL = 'a workspace_id is not present in table "workspace"', TABLE = 'contact';
  END IF;
  RETURN NULL;
END $$""",
    """CREATE TRIGGER contact_workspace_added AFTER INSERT ON contact
  REFERENCING NEW TABLE AS added FOR EACH STATEMENT EXECUTE FUNCTION contact_workspace_check()""",
    # A contact moved to another workspace (ChatbotX never does): checked per row, as the key did, and only
    # when workspace_id changes (a statement-level trigger would lock the workspace on every contact update).
    """CREATE FUNCTION contact_workspace_moved() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  PERFORM 1 FROM workspace w WHERE w.id = NEW.workspace_id FOR KEY SHARE OF w;
  IF NOT FOUND THEN
    RAISE foreign_key_violation USING
      MESSAGE = 'insert or update on table "contact" violates its reference to table "workspace"',
      DETAIL = format('workspace_id %s is not present in table "workspace"', NEW.workspace_id),
      TABLE = 'contact';
  END IF;
  RETURN NULL;
END $$""",
    """CREATE TRIGGER contact_workspace_changed AFTER UPDATE OF workspace_id ON contact
  FOR EACH ROW WHEN (OLD.workspace_id IS DISTINCT FROM NEW.workspace_id)
  EXECUTE FUNCTION contact_workspace_moved()""",
    """CREATE FUNCTION contact_workspace_cascade() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF NOT EXISTS (SELECT 1 FROM removed) THEN
    RETURN NULL;
  END IF;
  IF current_setting('transaction_isolation') <> 'read committed' THEN
    RAISE serialization_failure USING
      MESSAGE = 'deleting from workspace cascades to contact only under READ COMMITTED';
  END IF;
  DELETE FROM contact c USING removed r WHERE c.workspace_id = r.id;
  RETURN NULL;
END $$""",
    """CREATE TRIGGER contact_workspace_removed AFTER DELETE ON workspace
  REFERENCING OLD TABLE AS removed FOR EACH STATEMENT EXECUTE FUNCTION contact_workspace_cascade()""",
    """CREATE FUNCTION contact_workspace_key_changed() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF EXISTS (SELECT 1 FROM contact WHERE workspace_id = OLD.id) THEN
    RAISE foreign_key_violation USING
      MESSAGE = 'update on table "workspace" violates a reference from table "contact"',
      DETAIL = format('id %s is still referenced from table "contact"', OLD.id), TABLE = 'workspace';
  END IF;
  RETURN NULL;
END $$""",
    """CREATE TRIGGER contact_workspace_key_changed AFTER UPDATE OF id ON workspace
  FOR EACH ROW WHEN (OLD.id <> NEW.id) EXECUTE FUNCTION contact_workspace_key_changed()""",
    """CREATE FUNCTION contact_workspace_truncate() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  TRUNCATE contact CASCADE;
  RETURN NULL;
END $$""",
    """CREATE TRIGGER contact_workspace_truncated AFTER TRUNCATE ON workspace
  FOR EACH STATEMENT EXECUTE FUNCTION contact_workspace_truncate()""",
)

PG_DOWNGRADE = (
    "DROP TRIGGER IF EXISTS contact_workspace_added ON contact",
    "DROP TRIGGER IF EXISTS contact_workspace_changed ON contact",
    "DROP TRIGGER IF EXISTS contact_workspace_removed ON workspace",
    "DROP TRIGGER IF EXISTS contact_workspace_key_changed ON workspace",
    "DROP TRIGGER IF EXISTS contact_workspace_truncated ON workspace",
    "DROP FUNCTION IF EXISTS contact_workspace_check()",
    "DROP FUNCTION IF EXISTS contact_workspace_moved()",
    "DROP FUNCTION IF EXISTS contact_workspace_cascade()",
    "DROP FUNCTION IF EXISTS contact_workspace_key_changed()",
    "DROP FUNCTION IF EXISTS contact_workspace_truncate()",
    "ALTER TABLE contact ADD CONSTRAINT fk_contact_workspace_id_workspace FOREIGN KEY (workspace_id)"
    " REFERENCES workspace (id) ON DELETE CASCADE",
)


def upgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    for statement in PG_UPGRADE:
        op.execute(statement)


def downgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    for statement in PG_DOWNGRADE:
        op.execute(statement)
