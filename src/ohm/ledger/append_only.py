"""The journal's database objects beyond its tables: append-only triggers and the
``ledger_receivable`` view (the customer subledger, ADR 0005).

SQLite rebuilds a table to alter it, and the rebuild drops its triggers (and a view over it
would stop it renaming): every migration that alters a journal table must start with
``uninstall`` and end with ``install`` (both idempotent).
"""

TABLES = ["ledger_journalentry", "ledger_receivableextra", "ledger_gltotal"]
# The tables of the first layout (migrations 0002-0004 ran with these).
TABLES_BEFORE_0005 = ["ledger_journalentry", "ledger_journalline"]

RECEIVABLE_VIEW = """
CREATE VIEW ledger_receivable AS
SELECT id AS entry_id, 0 AS position, account_id, service_agreement_id,
       receivable_cents AS amount_cents, effective_date, due_date, category,
       receivable_memo AS memo
  FROM ledger_journalentry WHERE account_id IS NOT NULL
UNION ALL
SELECT entry_id, position, account_id, service_agreement_id, amount_cents, effective_date,
       due_date, category, memo
  FROM ledger_receivableextra
"""


def install(schema_editor, tables: list[str] | None = None, *, view: bool = True) -> None:
    vendor = schema_editor.connection.vendor
    if vendor == "postgresql":
        schema_editor.execute(
            "CREATE OR REPLACE FUNCTION ledger_refuse_change() RETURNS trigger LANGUAGE plpgsql AS $$ "
            "BEGIN RAISE EXCEPTION '% is append-only: post a reversing entry instead', TG_TABLE_NAME; END; $$",
            params=None,  # the % is plpgsql's placeholder, not the driver's
        )
    for table in TABLES if tables is None else tables:
        if vendor == "sqlite":
            for action in ("UPDATE", "DELETE"):
                schema_editor.execute(
                    f"CREATE TRIGGER IF NOT EXISTS {table}_no_{action.lower()} BEFORE {action} ON {table} "
                    f"BEGIN SELECT RAISE(ABORT, '{table} is append-only: post a reversing entry instead'); END;"
                )
        elif vendor == "postgresql":
            schema_editor.execute(f"DROP TRIGGER IF EXISTS {table}_append_only ON {table}")
            schema_editor.execute(
                f"CREATE TRIGGER {table}_append_only BEFORE UPDATE OR DELETE ON {table} "
                "FOR EACH ROW EXECUTE FUNCTION ledger_refuse_change()"
            )
    if view:
        schema_editor.execute("DROP VIEW IF EXISTS ledger_receivable")
        schema_editor.execute(RECEIVABLE_VIEW)


def uninstall(schema_editor, tables: list[str] | None = None) -> None:
    vendor = schema_editor.connection.vendor
    schema_editor.execute("DROP VIEW IF EXISTS ledger_receivable")
    for table in TABLES if tables is None else tables:
        if vendor == "sqlite":
            for action in ("update", "delete"):
                schema_editor.execute(f"DROP TRIGGER IF EXISTS {table}_no_{action}")
        elif vendor == "postgresql":
            schema_editor.execute(f"DROP TRIGGER IF EXISTS {table}_append_only ON {table}")
