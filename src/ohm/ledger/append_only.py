"""Database triggers that make the journal append-only.

SQLite rebuilds a table to alter it, and the rebuild drops its triggers: every migration
that alters a journal table must end by calling ``install`` again (it is idempotent).
"""

TABLES = ["ledger_journalentry", "ledger_journalline"]


def install(schema_editor) -> None:
    vendor = schema_editor.connection.vendor
    if vendor == "postgresql":
        schema_editor.execute(
            "CREATE OR REPLACE FUNCTION ledger_refuse_change() RETURNS trigger LANGUAGE plpgsql AS $$ "
            "BEGIN RAISE EXCEPTION '% is append-only: post a reversing entry instead', TG_TABLE_NAME; END; $$",
            params=None,  # the % is plpgsql's placeholder, not the driver's
        )
    for table in TABLES:
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


def uninstall(schema_editor) -> None:
    vendor = schema_editor.connection.vendor
    for table in TABLES:
        if vendor == "sqlite":
            for action in ("update", "delete"):
                schema_editor.execute(f"DROP TRIGGER IF EXISTS {table}_no_{action}")
        elif vendor == "postgresql":
            schema_editor.execute(f"DROP TRIGGER IF EXISTS {table}_append_only ON {table}")
