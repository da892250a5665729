"""References checked once per statement instead of once per row.

A foreign key checks every inserted row on its own: PostgreSQL queues one
trigger call per row and reference and runs each as a lookup with a row lock
(`FOR KEY SHARE`). A ledger batch of 1,000 postings inserts 2,000 entries, so
its commit ran 4,000 of them: a third of PostgreSQL's time for the batch
(docs/performance-log.md, 2026-12-08).

`StatementReferences` keeps the same guarantee for a table whose rows are
only ever inserted (an append-only table): one statement-level `AFTER INSERT`
trigger reads the statement's new rows (a transition table) and checks, per
referenced table, that every distinct id exists, in one index lookup of an
array. A missing one fails the statement with SQLSTATE 23503
(`foreign_key_violation`, Django's `IntegrityError`), as the foreign key did,
only at the statement's end instead of the commit.

What the per-row lock protected, a referenced row deleted under a new
reference, is kept by the referenced tables themselves: a journal is
append-only (config/append_only.py), and an account refuses to be deleted
while any entry names it (`RefuseDeleteWhileReferenced`; the ledger locks an
account's row before writing its entries, so a delete waits for that
transaction and then sees them).

Like the append-only triggers these are compiled without django-pgtrigger's
ignore switch (see config/append_only.py), and SQLite (the embedded default) has none:
Django's `on_delete=PROTECT` still guards there, as everywhere, in Python.
"""

from __future__ import annotations

from typing import Any

import pgtrigger
from django.db import models

from config.append_only import WithoutIgnore

NEW_ROWS = "new_rows"


class StatementReferences(WithoutIgnore):
    """AFTER INSERT, for each statement: every id the new rows name in
    `fields` (foreign keys declared with `db_constraint=False`) exists."""

    def __init__(self, *, name: str, fields: tuple[str, ...], **kwargs: Any) -> None:
        self.fields = fields
        super().__init__(
            name=name,
            level=pgtrigger.Statement,
            when=pgtrigger.After,
            operation=pgtrigger.Insert,
            referencing=pgtrigger.Referencing(new=NEW_ROWS),
            declare=[("wanted", "bigint[]")],
            **kwargs,
        )

    def get_func(self, model: models.Model) -> str:
        checks = []
        for name in self.fields:
            field = model._meta.get_field(name)
            target = field.related_model._meta  # type: ignore[union-attr]
            column = field.column  # type: ignore[union-attr]
            checks.append(
                # names from the models; `= ANY` of an array is an index lookup
                # whatever the planner thinks of the transition table's size
                f"wanted := ARRAY(SELECT DISTINCT {column} FROM {NEW_ROWS});"  # noqa: S608
                f" IF (SELECT count(*) FROM {target.db_table}"
                f" WHERE {target.pk.column} = ANY(wanted)) <> cardinality(wanted)"
                " THEN RAISE EXCEPTION"
                f" '{model._meta.db_table}.{column} names a row that is not in"
                f" {target.db_table}' USING ERRCODE = 'foreign_key_violation';"
                " END IF;"
            )
        return " ".join(checks) + " RETURN NULL;"


class RefuseDeleteWhileReferenced(WithoutIgnore):
    """BEFORE DELETE, for each row: refused while a row of `by` names it
    through `field` (the guard a foreign key's `ON DELETE NO ACTION` gave)."""

    def __init__(self, *, name: str, by: str, field: str, **kwargs: Any) -> None:
        self.by, self.by_field = by, field
        super().__init__(
            name=name,
            level=pgtrigger.Row,
            when=pgtrigger.Before,
            operation=pgtrigger.Delete,
            **kwargs,
        )

    def get_func(self, model: models.Model) -> str:
        from django.apps import apps

        referring = apps.get_model(self.by)._meta
        column = referring.get_field(self.by_field).column  # type: ignore[union-attr]
        return (
            f"IF EXISTS (SELECT 1 FROM {referring.db_table}"  # noqa: S608
            f" WHERE {column} = OLD.{model._meta.pk.column}) THEN RAISE EXCEPTION"
            f" '{model._meta.db_table} row % is named by {referring.db_table}',"
            f" OLD.{model._meta.pk.column} USING ERRCODE = 'foreign_key_violation';"
            " END IF; RETURN OLD;"
        )
