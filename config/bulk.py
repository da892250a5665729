"""Bulk writes (and a few reads) the ORM makes slow.

Django's `bulk_update` builds a `CASE WHEN pk = ... THEN ...` expression per row and
field and resolves each of them in Python: for the matcher's 500-order batches that
was more than half of the job's time. On PostgreSQL these helpers send one
`UPDATE ... FROM unnest(...)` (or `INSERT ... SELECT FROM unnest(...)`) with one
array per column instead (the statement text is the same whatever the row count);
elsewhere (the embedded SQLite) they fall back to the ORM.

Arrays go to PostgreSQL in the binary format (`%b`): in the text format psycopg
quotes and escapes every element in Python, with a regular expression per string,
which cost 30 us a row for rows carrying JSON (1.5 us in binary).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from contextvars import ContextVar
from operator import attrgetter
from typing import TypeVar, cast

from django.db import DEFAULT_DB_ALIAS, connection, connections, models
from django.db.models import signals

from config import pgarrays

# Columns whose Python values go to the driver unchanged (Django's per-value
# preparation of them was a sixth of the matcher's time).
_AS_IS = (
    models.IntegerField,  # and its Big/Positive/Small variants, AutoFields
    models.CharField,
    models.TextField,
    models.BooleanField,
    models.DateTimeField,
)

_M = TypeVar("_M", bound=models.Model)


def _as_is(field: models.Field) -> bool:
    """A column whose value goes to the driver as the instance holds it (a foreign
    key to an integer primary key included)."""
    if isinstance(field, models.ForeignKey):
        field = field.target_field
    return isinstance(field, _AS_IS)


# (field, adding) -> (read the instance's value, needs get_db_prep_save)
_readers: dict[tuple[models.Field, bool], tuple] = {}


def _column(
    field: models.Field,
    objs: Sequence[models.Model],
    db,
    adding: bool,
    prepare: bool = True,
):
    """Every row's value of `field`, ready for the driver (`prepare=False`: as the
    instance holds it). `adding`: for an INSERT, through the field's `pre_save`
    where it has one of its own (`auto_now_add`); an update sends what the
    instance holds, as `bulk_update` does."""
    reader = _readers.get((field, adding))
    if reader is None:
        own_pre_save = type(field).pre_save is not models.Field.pre_save and not (
            isinstance(field, models.DateField)
            and not field.auto_now
            and not field.auto_now_add
        )
        read: Callable[..., object]  # (obj) -> value; the lambda binds its field too
        if adding and own_pre_save:
            read = lambda obj, field=field: field.pre_save(obj, True)  # noqa: E731
        else:
            read = attrgetter(field.attname)
        reader = _readers[(field, adding)] = (read, not _as_is(field))
    read, needs_preparing = reader
    if not (prepare and needs_preparing):  # psycopg adapts these values itself
        return list(map(read, objs))
    return [field.get_db_prep_save(read(obj), db) for obj in objs]


_array_types: dict[models.Field, str] = {}


def _array_type(field: models.Field) -> str:
    array_type = _array_types.get(field)
    if array_type is None:
        db_type = field.db_type(connection)
        if db_type is None:
            raise TypeError(f"{field} has no column type")
        # serial/identity columns are plain integers once they exist
        array_type = {"serial": "integer", "bigserial": "bigint"}.get(db_type, db_type)
        _array_types[field] = array_type
    return array_type


def _array_cursor(db):
    """A cursor whose connection can send `PackedArray`s (psycopg copies the
    adapters into a cursor when it is made)."""
    db.ensure_connection()
    pgarrays.ready(db.connection)
    return db.cursor()


def _array(field: models.Field, objs: Sequence[models.Model], db, adding: bool):
    """A column as an array parameter: packed in the binary format where its type
    allows (config/pgarrays.py), else the list psycopg dumps element by element.
    JSON goes packed as the instance holds it (no encoder of the field's own)."""
    array_type = _array_type(field)
    if not pgarrays.can_pack(array_type):
        return _column(field, objs, db, adding)
    if isinstance(field, models.JSONField):
        if field.encoder is not None:
            return _column(field, objs, db, adding)
        values = _column(field, objs, db, adding, prepare=False)
    else:
        values = _column(field, objs, db, adding)
    return pgarrays.pack_array(values, array_type)


def bulk_update_rows(
    model: type[models.Model], rows: Sequence[models.Model], fields: Sequence[str]
) -> None:
    """UPDATE each row's `fields` to the instance's values, in one statement."""
    if not rows:
        return
    if connection.vendor != "postgresql":
        model._default_manager.bulk_update(rows, list(fields))
        return
    db = connections[DEFAULT_DB_ALIAS]
    meta = model._meta
    pk = meta.pk
    # named fields of an UPDATE are the model's own columns, not reverse relations
    columns = [cast(models.Field, meta.get_field(name)) for name in fields]
    arrays = [_array(field, rows, db, False) for field in (pk, *columns)]
    quote = db.ops.quote_name
    # Field.column is `str | None` in django-stubs: None only for fields that are
    # not columns; every field here (and below) is concrete, so its column is set.
    names = ["pk_", *(f"c{index}" for index in range(len(columns)))]
    unnest = ", ".join(f"%b::{_array_type(field)}[]" for field in (pk, *columns))
    assignments = ", ".join(
        f"{quote(cast(str, column.column))} = v.{name}"
        for column, name in zip(columns, names[1:], strict=True)
    )
    sql = (
        # identifiers from the model's meta, values bound: nothing user-supplied
        f"UPDATE {quote(meta.db_table)} AS t SET {assignments} "  # noqa: S608
        f"FROM unnest({unnest}) AS v({', '.join(names)}) "
        f"WHERE t.{quote(cast(str, pk.column))} = v.pk_"
    )
    with _array_cursor(db) as cursor:
        cursor.execute(sql, arrays)


def bulk_add(
    model: type[models.Model], field_name: str, deltas: Mapping[int, int]
) -> None:
    """`field = field + delta` for each pk in `deltas`, in one statement (the rows
    must already be locked by the caller if their order matters)."""
    if not deltas:
        return
    meta = model._meta
    field = cast(models.Field, meta.get_field(field_name))  # a column
    if connection.vendor != "postgresql":
        whens = [
            models.When(pk=pk, then=models.Value(delta)) for pk, delta in deltas.items()
        ]
        model._default_manager.filter(pk__in=list(deltas)).update(
            **{
                field_name: models.F(field_name)
                + models.Case(*whens, output_field=models.BigIntegerField())
            }
        )
        return
    quote = connection.ops.quote_name
    column = quote(cast(str, field.column))
    sql = (
        f"UPDATE {quote(meta.db_table)} AS t SET {column} = t.{column} + v.delta "  # noqa: S608
        f"FROM unnest(%b::bigint[], %b::bigint[]) AS v(pk_, delta) "
        f"WHERE t.{quote(cast(str, meta.pk.column))} = v.pk_"
    )
    with _array_cursor(connection) as cursor:
        cursor.execute(
            sql,
            [
                pgarrays.pack_array(list(deltas), "bigint"),
                pgarrays.pack_array(list(deltas.values()), "bigint"),
            ],
        )


# (model, rows, with pk) -> (INSERT statement, its fields), built once per process.
_insert_statements: dict[tuple, tuple[str, list[models.Field]]] = {}


def _insert_statement(
    model: type[models.Model], rows: int, with_pk: bool = False
) -> tuple[str, list[models.Field]]:
    """`with_pk`: the rows come with their ids (drawn from the sequence first)."""
    cached = _insert_statements.get((model, rows, with_pk))
    if cached is None:
        meta = model._meta
        quote = connection.ops.quote_name
        fields = [
            field for field in meta.concrete_fields if with_pk or field is not meta.pk
        ]
        columns = ", ".join(quote(cast(str, field.column)) for field in fields)
        pk_column = quote(cast(str, meta.pk.column))
        row = f"({', '.join(['%s'] * len(fields))})"
        sql = (
            # identifiers from the model's meta, values bound: nothing user-supplied
            f"INSERT INTO {quote(meta.db_table)} ({columns}) "  # noqa: S608
            f"VALUES {', '.join([row] * rows)} RETURNING {pk_column}"
        )
        cached = _insert_statements[(model, rows, with_pk)] = (sql, fields)
    return cached


def _insert_params(fields: list[models.Field], objs: Sequence[models.Model]) -> list:
    db = connections[DEFAULT_DB_ALIAS]
    columns = [_column(field, objs, db, True) for field in fields]
    return [value for row in zip(*columns, strict=True) for value in row]


def _inserted(objs: Sequence[models.Model], pks: Sequence, alias: str) -> None:
    for obj, pk in zip(objs, pks, strict=True):
        obj.pk = pk
        state = obj._state
        state.adding = False
        state.db = alias


# Up to this many rows an INSERT ... VALUES statement is cached per row count; above
# it one statement of arrays (`_insert_unnest`) serves any count.
_CACHED_ROWS = 16


def insert_rows(objs: Sequence[models.Model], *, returning: bool = True) -> None:
    """INSERT new rows of one model in one statement and set their pks: what
    `bulk_create` does, without the SQL compiler, which on the order placement path
    cost more Python than the rest of each insert, nor its text-format arrays. The
    rows come all with their pks (drawn from the sequence first) or all without.
    Defaults and `auto_now` apply (each field's `pre_save`); no signals are sent, so
    it is only for models nothing listens to.

    `returning=False` (PostgreSQL): the new pks are not read back, so inside
    `pipelined()` the statement costs no round trip of its own."""
    if not objs:
        return
    with_pk = objs[0].pk is not None
    if connection.vendor != "postgresql" or any(
        (obj.pk is not None) != with_pk for obj in objs
    ):
        type(objs[0])._base_manager.bulk_create(objs)
        return
    if len(objs) > _CACHED_ROWS:
        _insert_unnest(objs, with_pk, returning)
        return
    sql, fields = _insert_statement(type(objs[0]), len(objs), with_pk)
    db = connections[DEFAULT_DB_ALIAS]
    with db.cursor() as cursor:
        cursor.execute(sql, _insert_params(fields, objs))
        if returning:
            pks = [pk for (pk,) in cursor.fetchall()]  # in VALUES order
            _inserted(objs, pks, db.alias)


# (model, with pk) -> (INSERT ... SELECT FROM unnest statement, its fields)
_unnest_statements: dict[tuple, tuple[str, list[models.Field]]] = {}


def _unnest_statement(
    model: type[models.Model], with_pk: bool
) -> tuple[str, list[models.Field]]:
    cached = _unnest_statements.get((model, with_pk))
    if cached is None:
        meta = model._meta
        quote = connection.ops.quote_name
        fields = [
            field for field in meta.concrete_fields if with_pk or field is not meta.pk
        ]
        columns = ", ".join(quote(cast(str, field.column)) for field in fields)
        pk_column = quote(cast(str, meta.pk.column))
        arrays = ", ".join(f"%b::{_array_type(field)}[]" for field in fields)
        sql = (
            # identifiers from the model's meta, values bound: nothing user-supplied
            f"INSERT INTO {quote(meta.db_table)} ({columns}) "  # noqa: S608
            f"SELECT * FROM unnest({arrays}) RETURNING {pk_column}"
        )
        cached = _unnest_statements[(model, with_pk)] = (sql, fields)
    return cached


def _insert_unnest(
    objs: Sequence[models.Model], with_pk: bool, returning: bool = True
) -> None:
    """Many rows as one array per column: one statement text for any row count."""
    sql, fields = _unnest_statement(type(objs[0]), with_pk)
    db = connections[DEFAULT_DB_ALIAS]
    arrays = [_array(field, objs, db, True) for field in fields]
    with _array_cursor(db) as cursor:
        cursor.execute(sql, arrays)
        if returning:
            # PostgreSQL returns the rows of INSERT ... SELECT in the order it
            # inserts them, the arrays' (Django's own bulk_create relies on it)
            _inserted(objs, [pk for (pk,) in cursor.fetchall()], db.alias)


# (model, with pk, one row) per group -> the WITH statement of `insert_rows_together`
_together_statements: dict[tuple, str] = {}


def insert_rows_together(*groups: Sequence[models.Model]) -> None:
    """`insert_rows` for several groups of new rows (a model each), in one
    statement on PostgreSQL (a CTE per group), in the order given, setting the
    pks of the groups that come without them. The rows must not need each
    other's generated ids (foreign keys are checked at commit); elsewhere, one
    `insert_rows` per group.

    A group of one row (a single order's) goes in as `INSERT ... VALUES` of
    scalar parameters, a larger one as one array per column: a one-order
    placement packed 52 one-element arrays per request. The
    statement text is built once per shape (each group's model, pks, one row
    or many) and kept, so the server prepares it. (With more than 50
    parameters psycopg still parses the text in Python on each call.)"""
    groups = tuple(group for group in groups if group)
    db = connections[DEFAULT_DB_ALIAS]
    if db.vendor != "postgresql" or len(groups) < 2:
        for group in groups:
            insert_rows(group)
        return
    shape: list[tuple] = []
    for group in groups:
        with_pk = group[0].pk is not None
        if any((obj.pk is not None) != with_pk for obj in group):
            raise ValueError("a group's rows come all with their pks or all without")
        shape.append((type(group[0]), with_pk, len(group) == 1))
    key = tuple(shape)
    sql = _together_statements.get(key)
    if sql is None:
        sql = _together_statements[key] = _together_statement(key)
    params: list[object] = []
    for group, (model, with_pk, one) in zip(groups, key, strict=True):
        if one:
            _, fields = _insert_statement(model, 1, with_pk)
            obj = group[0]
            params.extend(_column(field, (obj,), db, True)[0] for field in fields)
        else:
            _, fields = _unnest_statement(model, with_pk)
            params.extend(_array(field, group, db, True) for field in fields)
    with _array_cursor(db) as cursor:
        cursor.execute(sql, params)
        ids = cursor.fetchone()
    for group, pks in zip(groups, ids, strict=True):
        _inserted(group, pks, db.alias)


def _together_statement(shape: tuple) -> str:
    parts: list[str] = []
    selects: list[str] = []
    for index, (model, with_pk, one) in enumerate(shape):
        if one:
            sql, _ = _insert_statement(model, 1, with_pk)
        else:
            sql, _ = _unnest_statement(model, with_pk)
        parts.append(f"r{index} AS ({sql})")
        # RETURNING gives the rows in the order the arrays list them, and the
        # aggregate keeps the order it reads them in
        pk = connection.ops.quote_name(cast(str, model._meta.pk.column))
        selects.append(f"(SELECT array_agg({pk}) FROM r{index})")  # noqa: S608
    return f"WITH {', '.join(parts)} SELECT {', '.join(selects)}"


def insert_one(obj: models.Model) -> None:
    insert_rows([obj])


@contextmanager
def pipelined() -> Iterator[None]:
    """Statements sent without waiting for each other's results (psycopg's
    pipeline mode, PostgreSQL): a round trip only where a result is read (a
    fetch) and at the end. Errors of statements nothing read back surface at the
    next read or on leaving the block, as Django's exceptions. Elsewhere the
    statements simply run one by one."""
    db = connections[DEFAULT_DB_ALIAS]
    if db.vendor != "postgresql":
        yield
        return
    db.ensure_connection()
    with db.wrap_database_errors, db.connection.pipeline():
        yield


_deferred: ContextVar[list[models.Model] | None] = ContextVar(
    "bulk_deferred_inserts", default=None
)


@contextmanager
def inserts_deferred() -> Iterator[list[models.Model]]:
    """Collect what `insert_rows_deferrable` is given inside the block instead of
    writing it, for the caller to write with its own rows in one statement
    (`insert_rows_together`) before its transaction commits. Leaving the block normally
    with a collected row still unwritten is a bug, and raises."""
    rows: list[models.Model] = []
    token = _deferred.set(rows)
    try:
        yield rows
    finally:
        _deferred.reset(token)
    if any(row.pk is None for row in rows):
        raise RuntimeError("rows collected by inserts_deferred() were not written")


def insert_rows_deferrable(objs: Sequence[models.Model]) -> None:
    """`insert_rows`, or, inside `inserts_deferred()`, left to its caller. For rows
    nothing later in the transaction reads back before the caller writes them."""
    collected = _deferred.get()
    if collected is None:
        insert_rows(objs)
    else:
        collected.extend(objs)


_sequences: dict[tuple[type, str], str] = {}


def next_id_sql(model: type[models.Model]) -> str:
    """`nextval(...)` of `model`'s primary key sequence (PostgreSQL), its name
    read from the catalog once per process: `pg_get_serial_sequence` in the
    statement itself is looked up for every row it draws (0.45 ms for 20)."""
    key = (model, connection.alias)
    name = _sequences.get(key)
    if name is None:
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT pg_get_serial_sequence(%s, %s)",
                [model._meta.db_table, model._meta.pk.column],
            )
            (name,) = cursor.fetchone()
        _sequences[key] = name
    literal = name.replace("'", "''")  # a name from the catalog, as a literal
    return f"nextval('{literal}'::regclass)"


# --- rows read in SQL -------------------------------------------------------------


def column_in(column: str, values: Sequence) -> tuple[str, list]:
    """`<column> = ANY(%s)` on PostgreSQL (one statement text, so one prepared
    statement, whatever the count), `<column> IN (%s, ...)` elsewhere; with its
    parameters."""
    if connection.vendor == "postgresql":
        return f"{column} = ANY(%b)", [list(values)]
    return f"{column} IN ({', '.join(['%s'] * len(values))})", list(values)


def _select_by_pk(
    model: type[models.Model], columns: str, pks, lock: str, fetch: bool = True
) -> list:
    """Rows of `model` by pk, in pk order, with `FOR <lock>` where the database
    has row locks (SQLite locks the whole database instead). `fetch=False`: the
    statement runs (and locks) but nothing is read back."""
    quote = connection.ops.quote_name
    pk = f"t.{quote(cast(str, model._meta.pk.column))}"
    where, params = column_in(pk, pks)
    sql = (
        # names from the model's meta, values bound
        f"SELECT {columns} FROM {quote(model._meta.db_table)} t"  # noqa: S608
        f" WHERE {where} ORDER BY {pk}"
    )
    if connection.features.has_select_for_update:
        sql += f" FOR {lock}"
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return cursor.fetchall() if fetch else []


def rows_lock(model: type[models.Model], pks: Sequence, *, no_key: bool = True) -> None:
    """Lock rows of `model` by pk, in pk order (the order every writer of a table
    must take its locks in), with one statement whatever their number: `FOR NO
    KEY UPDATE` (or `FOR UPDATE`) on PostgreSQL. Elsewhere a no-op, as the ORM's
    `select_for_update` is (SQLite locks the whole database)."""
    if pks and connection.features.has_select_for_update:
        pk = f"t.{connection.ops.quote_name(cast(str, model._meta.pk.column))}"
        # nothing read back: inside pipelined() no round trip of its own
        lock = "NO KEY UPDATE" if no_key else "UPDATE"
        _select_by_pk(model, pk, pks, lock, fetch=False)


def rows_locked(model: type[models.Model], pks: Sequence) -> dict:
    """The rows of `model` with these pks, locked `FOR UPDATE` in pk order where
    the database has row locks (as `select_for_update().filter(pk__in=...)`
    would, without compiling it): {pk: instance}."""
    if not pks:
        return {}
    rows = _select_by_pk(model, model_columns(model, "t"), pks, "UPDATE")
    instances = [instance_from_row(model, row) for row in rows]
    return {instance.pk: instance for instance in instances}


_row_readers: dict[tuple[type, str], tuple] = {}


def model_columns(model: type[models.Model], alias: str) -> str:
    """The SELECT list of `model`'s columns under the table alias `alias`, in the
    order `instance_from_row` reads them."""
    quote = connection.ops.quote_name
    return ", ".join(
        f"{alias}.{quote(cast(str, f.column))}" for f in model._meta.concrete_fields
    )


def instance_from_row(model: type[_M], values: Sequence) -> _M:
    """The instance the ORM would build from a row of `model_columns`: each
    column through the database's converters, as the SQL compiler applies them
    (SQLite's booleans and datetimes, for one). The converter chains are kept per
    model and database vendor; they read only settings through the connection
    they were taken from, never its state.

    The instance is filled in directly rather than through `Model.__init__` (which
    sets each field through its descriptor and sends two signals: a third of the
    matcher's reads), unless something listens to the model's init signals."""
    db = connections[DEFAULT_DB_ALIAS]
    key = (model, db.vendor)
    reader = _row_readers.get(key)
    if reader is None:
        converters = []
        for index, field in enumerate(model._meta.concrete_fields):
            column = field.get_col(model._meta.db_table)
            chain = db.ops.get_db_converters(column)
            chain += column.get_db_converters(db)
            if chain:
                converters.append((index, column, chain))
        names = tuple(f.attname for f in model._meta.concrete_fields)
        plain = not (
            signals.pre_init.has_listeners(model)
            or signals.post_init.has_listeners(model)
        )
        reader = _row_readers[key] = (converters, names, plain)
    converters, names, plain = reader
    if converters:
        values = list(values)
        for index, column, chain in converters:
            value = values[index]
            for converter in chain:
                value = converter(value, column, db)
            values[index] = value
    if not plain:
        return model.from_db(db.alias, names, values)
    instance = model.__new__(model)
    state = models.base.ModelState()
    state.adding = False
    state.db = db.alias
    instance.__dict__.update(zip(names, values, strict=True))
    instance._state = state
    return instance


_new_makers: dict[type, tuple] = {}


def new_instance(model: type[_M], **values) -> _M:
    """`model(**values)`, for the rows a batch creates by the thousand, filled in
    directly: `Model.__init__` set every field through its descriptor and called
    each missing field's default, 12% of a large matching run's Python. Values go
    by field name (a relation as its object, which sets its id and its cache, as
    the descriptor does) or by attname (`user_id`); a missing field gets its
    default as `__init__` would. With init-signal listeners, `__init__` itself."""
    maker = _new_makers.get(model)
    if maker is None:
        concrete = model._meta.concrete_fields
        fields = tuple(
            (
                field.name,
                field.attname,
                # a concrete many-to-one field is a ForeignKey
                cast(models.ForeignKey, field).target_field.attname
                if field.many_to_one
                else None,
                field._get_default,  # type: ignore[attr-defined]  # Django's private cached_property, not in django-stubs
            )
            for field in concrete
        )
        known = {name for name, *_ in fields} | {attname for _, attname, *_ in fields}
        plain = not (
            signals.pre_init.has_listeners(model)
            or signals.post_init.has_listeners(model)
            or any(field.one_to_one for field in concrete)  # a reverse cache too
        )
        maker = _new_makers[model] = (fields, known, plain)
    fields, known, plain = maker
    if not plain:
        return model(**values)
    unknown = values.keys() - known
    if unknown:
        raise TypeError(f"{model.__name__}() got unexpected fields {sorted(unknown)}")
    instance = model.__new__(model)
    state = models.base.ModelState()
    data = instance.__dict__
    for name, attname, target, default in fields:
        if name in values:
            value = values[name]
            if target is not None:
                data[attname] = None if value is None else getattr(value, target)
                state.fields_cache[name] = value
            else:
                data[attname] = value
        elif attname in values:
            data[attname] = values[attname]
        else:
            data[attname] = default()
    instance._state = state
    return instance


def violated_constraint(exc: BaseException) -> str | None:
    """The name of the constraint an `IntegrityError` reports, or None: from
    PostgreSQL's error fields, or SQLite's message ("CHECK constraint failed:
    <name>"), so callers can tell one constraint from another."""
    diag = getattr(exc.__cause__, "diag", None)
    if diag is not None:
        return diag.constraint_name
    found = re.search(r"CHECK constraint failed: (\w+)", str(exc))
    return found.group(1) if found else None
