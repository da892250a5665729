"""Append-only tables: on PostgreSQL the database itself refuses UPDATE, DELETE and
TRUNCATE of history (ledger journals and entries, audit events, status changes,
trades and fills), whatever code or person sends the statement.

A model opts in with one line in its Meta (django-pgtrigger installs the triggers
through the app's migrations; run `makemigrations <app>` after adding it):

    class Meta:
        triggers = append_only_triggers()

Two triggers per table: a row-level `BEFORE UPDATE OR DELETE` one and a
statement-level `BEFORE TRUNCATE` one (a TRUNCATE fires no row trigger). Inserts are
untouched, so the hot paths (the matcher, the ledger's bulk inserts) pay nothing.

These triggers are stricter than stock `pgtrigger.Protect`: every trigger that
django-pgtrigger installs first asks `_pgtrigger_should_ignore()`, which reads the
session setting `pgtrigger.ignore`, and any SQL session may set that. Ours are
installed without that check, so nothing the application's database role can send
short of `ALTER TABLE ... DISABLE TRIGGER` or `DROP TRIGGER` (which need the table's
owner) gets past them. The test suite's flush is the one place that disables them
(the root `conftest.py`, inside the flush's own transaction).

SQLite (the embedded default) has no such triggers: django-pgtrigger leaves other
databases alone. What guards there are in Python stay on every database
(`AuditEvent.save()`/`delete()`, every status history's instances and
queryset, `config.models.StatusHistory`), and only services
write these tables.
"""

from __future__ import annotations

from typing import Any, cast

import pgtrigger
from django.db import models
from pgtrigger import compiler, registry

ROW_TRIGGER = "append_only"
TRUNCATE_TRIGGER = "append_only_truncate"

# The refusal is PL/pgSQL's `raise_exception` (SQLSTATE P0001): psycopg's
# RaiseException, which Django raises as `django.db.ProgrammingError` (a bug to
# fix, never a conflict to retry).
_REFUSE = (
    "RAISE EXCEPTION 'append-only table %: % refused', TG_TABLE_NAME, TG_OP"
    " USING HINT = 'History is never edited; post a correcting row instead.';"
)


class AppendOnlyTriggerSql(compiler.UpsertTriggerSql):
    """django-pgtrigger's installation SQL (v1 template) without the
    `pgtrigger.ignore` escape hatch. Migrations reference this class by its
    path; keep the template as it is once released (a change would alter every
    trigger's hash and the SQL that old migrations install)."""

    def get_template(self) -> str:
        return """
            CREATE OR REPLACE FUNCTION {pgid}()
            RETURNS TRIGGER AS $$
                {declare}
                BEGIN
                    {func}
                END;
            $$ LANGUAGE plpgsql;

            DROP TRIGGER IF EXISTS {pgid} ON {table};
            CREATE {constraint} TRIGGER {pgid}
                {when} {operation} ON {table}
                {timing}
                {referencing}
                FOR EACH {level} {condition}
                EXECUTE PROCEDURE {execute};

            COMMENT ON TRIGGER {pgid} ON {table} IS '{hash}';
        """


# pgtrigger annotates its `model` arguments as `models.Model` though it passes the
# model class; the overrides below keep its signatures.


class WithoutIgnore(pgtrigger.Trigger):
    """Compile a pgtrigger trigger with `AppendOnlyTriggerSql` (also used by
    config/references.py)."""

    def compile(self, model: models.Model) -> compiler.Trigger:
        return compiler.Trigger(
            name=self.name,
            sql=AppendOnlyTriggerSql(
                pgid=self.get_pgid(model),
                declare=self.render_declare(model),
                func=self.render_func(model),
                table=model._meta.db_table,
                when=self.when,
                operation=self.operation,
                # "" when none: the same SQL, so the same hash, as before
                referencing=self.referencing or "",
                level=self.level,
                condition=self.render_condition(model),
                execute=self.render_execute(model),
            ),
        )


class AppendOnlyRows(WithoutIgnore, pgtrigger.Protect):
    """BEFORE UPDATE OR DELETE, for each row: refused."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(
            name=ROW_TRIGGER,
            operation=pgtrigger.Update | pgtrigger.Delete,
            **kwargs,
        )

    def get_func(self, model: models.Model) -> str:
        return _REFUSE


class AppendOnlyTruncate(WithoutIgnore, pgtrigger.Trigger):
    """BEFORE TRUNCATE, for each statement: refused. (`pgtrigger.Protect` at
    statement level needs transition tables, which TRUNCATE has none of.)"""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(
            name=TRUNCATE_TRIGGER,
            level=pgtrigger.Statement,
            when=pgtrigger.Before,
            operation=pgtrigger.Truncate,
            func=_REFUSE,
            **kwargs,
        )


def append_only_triggers() -> list[pgtrigger.Trigger]:
    """The triggers that make a model's table append-only: its Meta's `triggers`."""
    return [AppendOnlyRows(), AppendOnlyTruncate()]


def append_only_models() -> list[type[models.Model]]:
    """Every model whose table is append-only, in label order."""
    found = {
        cast(type[models.Model], model)  # pgtrigger's annotation, see above
        for model, trigger in registry.registered()
        if isinstance(trigger, AppendOnlyRows)
    }
    return sorted(found, key=lambda model: model._meta.label)


def append_only_truncate_triggers() -> list[tuple[str, str]]:
    """(table, trigger id) of every append-only table's TRUNCATE trigger."""
    return sorted(
        (model._meta.db_table, trigger.get_pgid(model))
        for model, trigger in registry.registered()
        if isinstance(trigger, AppendOnlyTruncate)
    )
