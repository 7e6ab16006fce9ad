"""PostgreSQL: contact_tag's two foreign keys (to contact and to tag) become statement-level checks and
cascades (a no-op on SQLite, whose imports are not bound by them).

Revision ID: 0009
Revises: 0008

Why: a foreign key checks each inserted row on its own (one lookup and one row lock per row and key). A
contact import writes two or more links per contact, and these four checks per contact were a third of
PostgreSQL's work per imported row (COPY of 2,500 contacts and 5,000 links a transaction: 46 us of backend
CPU a contact with the keys, 29-30 without them, 30-31 with the checks below). Checking each statement's
rows as a set, over its transition table, costs one probe and lock per distinct contact and tag, in two
statements, instead of a query per link and key.

The guarantee stays the foreign keys': no link without its contact and its tag, whatever runs concurrently.
- AFTER INSERT / UPDATE on contact_tag, per statement (a transition table allows no column list): every
  contact and tag the new links name must exist, else foreign_key_violation (23503) as before. Each is
  locked FOR KEY SHARE, as the foreign key's own check does, so a concurrent delete of it waits for this
  transaction and then deletes its links (below), and a delete that came first makes this check fail (in
  READ COMMITTED a locking read skips a row deleted meanwhile, so the count comes up short).
- AFTER DELETE on contact and on tag, per statement: their links go too (ON DELETE CASCADE kept). The
  delete runs with a new snapshot (READ COMMITTED), so it sees the links of any transaction that held the
  row's lock until it committed. Under REPEATABLE READ or SERIALIZABLE it could not see them (the foreign
  key reads past the transaction's snapshot; a trigger cannot), so such a delete is refused with
  serialization_failure (40001) rather than risk an orphan link; every ChatbotX transaction is READ COMMITTED.
- An UPDATE of contact.id or tag.id that still has links is refused (the keys were NO ACTION on update).
- TRUNCATE of contact or tag truncates contact_tag.
"""

from __future__ import annotations

from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None

PG_UPGRADE = (
    "ALTER TABLE contact_tag DROP CONSTRAINT fk_contact_tag_contact_id_contact",
    "ALTER TABLE contact_tag DROP CONSTRAINT fk_contact_tag_tag_id_tag",
    """CREATE FUNCTION contact_tag_check() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
  contacts bigint[] := ARRAY(SELECT DISTINCT contact_id FROM linked);
  tags bigint[] := ARRAY(SELECT DISTINCT tag_id FROM linked);
  locked bigint;
BEGIN
  -- = ANY: one index probe per id, whatever the statistics say (a join with the transition table was
  -- planned as a scan of contact per link on a table never analyzed).
  SELECT count(*) INTO locked FROM (SELECT 1 FROM contact c WHERE c.id = ANY(contacts) FOR KEY SHARE OF c) l;
  IF locked <> cardinality(contacts) THEN
    RAISE foreign_key_violation USING
      MESSAGE = 'insert or update on table "contact_tag" violates its reference to table "contact"',
      DETAIL = 'a contact_id is not present in table "contact"', TABLE = 'contact_tag';
  END IF;
  SELECT count(*) INTO locked FROM (SELECT 1 FROM tag t WHERE t.id = ANY(tags) FOR KEY SHARE OF t) l;
  IF locked <> cardinality(tags) THEN
    RAISE foreign_key_violation USING
      MESSAGE = 'insert or update on table "contact_tag" violates its reference to table "tag"',
      DETAIL = 'a tag_id is not present in table "tag"', TABLE = 'contact_tag';
  END IF;
  RETURN NULL;
END $$""",
    """CREATE TRIGGER contact_tag_added AFTER INSERT ON contact_tag
  REFERENCING NEW TABLE AS linked FOR EACH STATEMENT EXECUTE FUNCTION contact_tag_check()""",
    """CREATE TRIGGER contact_tag_changed AFTER UPDATE ON contact_tag
  REFERENCING NEW TABLE AS linked FOR EACH STATEMENT EXECUTE FUNCTION contact_tag_check()""",
    """CREATE FUNCTION contact_tag_cascade() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF NOT EXISTS (SELECT 1 FROM removed) THEN
    RETURN NULL;
  END IF;
  IF current_setting('transaction_isolation') <> 'read committed' THEN
    RAISE serialization_failure USING
      MESSAGE = format('deleting from %I cascades to contact_tag only under READ COMMITTED', TG_TABLE_NAME);
  END IF;
  IF TG_TABLE_NAME = 'contact' THEN
    DELETE FROM contact_tag l USING removed r WHERE l.contact_id = r.id;
  ELSE
    DELETE FROM contact_tag l USING removed r WHERE l.tag_id = r.id;
  END IF;
  RETURN NULL;
END $$""",
    """CREATE TRIGGER contact_tag_contact_removed AFTER DELETE ON contact
  REFERENCING OLD TABLE AS removed FOR EACH STATEMENT EXECUTE FUNCTION contact_tag_cascade()""",
    """CREATE TRIGGER contact_tag_tag_removed AFTER DELETE ON tag
  REFERENCING OLD TABLE AS removed FOR EACH STATEMENT EXECUTE FUNCTION contact_tag_cascade()""",
    """CREATE FUNCTION contact_tag_key_changed() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF TG_TABLE_NAME = 'contact' AND EXISTS (SELECT 1 FROM contact_tag WHERE contact_id = OLD.id)
     OR TG_TABLE_NAME = 'tag' AND EXISTS (SELECT 1 FROM contact_tag WHERE tag_id = OLD.id) THEN
    RAISE foreign_key_violation USING
      MESSAGE = format('update on table %I violates a reference from table "contact_tag"', TG_TABLE_NAME),
      DETAIL = format('id %s is still referenced from table "contact_tag"', OLD.id), TABLE = TG_TABLE_NAME;
  END IF;
  RETURN NULL;
END $$""",
    """CREATE TRIGGER contact_tag_contact_key_changed AFTER UPDATE OF id ON contact
  FOR EACH ROW WHEN (OLD.id <> NEW.id) EXECUTE FUNCTION contact_tag_key_changed()""",
    """CREATE TRIGGER contact_tag_tag_key_changed AFTER UPDATE OF id ON tag
  FOR EACH ROW WHEN (OLD.id <> NEW.id) EXECUTE FUNCTION contact_tag_key_changed()""",
    """CREATE FUNCTION contact_tag_truncate() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  TRUNCATE contact_tag;
  RETURN NULL;
END $$""",
    """CREATE TRIGGER contact_tag_contact_truncated AFTER TRUNCATE ON contact
  FOR EACH STATEMENT EXECUTE FUNCTION contact_tag_truncate()""",
    """CREATE TRIGGER contact_tag_tag_truncated AFTER TRUNCATE ON tag
  FOR EACH STATEMENT EXECUTE FUNCTION contact_tag_truncate()""",
)

PG_DOWNGRADE = (
    "DROP TRIGGER IF EXISTS contact_tag_added ON contact_tag",
    "DROP TRIGGER IF EXISTS contact_tag_changed ON contact_tag",
    "DROP TRIGGER IF EXISTS contact_tag_contact_removed ON contact",
    "DROP TRIGGER IF EXISTS contact_tag_tag_removed ON tag",
    "DROP TRIGGER IF EXISTS contact_tag_contact_key_changed ON contact",
    "DROP TRIGGER IF EXISTS contact_tag_tag_key_changed ON tag",
    "DROP TRIGGER IF EXISTS contact_tag_contact_truncated ON contact",
    "DROP TRIGGER IF EXISTS contact_tag_tag_truncated ON tag",
    "DROP FUNCTION IF EXISTS contact_tag_check()",
    "DROP FUNCTION IF EXISTS contact_tag_cascade()",
    "DROP FUNCTION IF EXISTS contact_tag_key_changed()",
    "DROP FUNCTION IF EXISTS contact_tag_truncate()",
    "ALTER TABLE contact_tag ADD CONSTRAINT fk_contact_tag_contact_id_contact FOREIGN KEY (contact_id)"
    " REFERENCES contact (id) ON DELETE CASCADE",
    "ALTER TABLE contact_tag ADD CONSTRAINT fk_contact_tag_tag_id_tag FOREIGN KEY (tag_id)"
    " REFERENCES tag (id) ON DELETE CASCADE",
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
