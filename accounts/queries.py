"""The accounts app's hand-written SQL, behind names that say what it does."""

from __future__ import annotations

from django.db import connection

from accounts.models import User
from config.bulk import instance_from_row, model_columns

_user_by_id_sql: dict[str, str] = {}


def user_by_id(*, user_id: int) -> User | None:
    """The user with this id, as `User.objects.get` would build it, or None: one
    statement built once per process and database (the ORM compiled the query
    on every authenticated request)."""
    sql = _user_by_id_sql.get(connection.vendor)
    if sql is None:
        quote = connection.ops.quote_name
        sql = _user_by_id_sql[connection.vendor] = (
            # names from the model's meta, the id bound
            f"SELECT {model_columns(User, 't')}"  # noqa: S608
            f" FROM {quote(User._meta.db_table)} t"
            f" WHERE t.{quote(User._meta.pk.column or 'id')} = %s"
        )
    with connection.cursor() as cursor:
        cursor.execute(sql, [user_id])
        row = cursor.fetchone()
    return None if row is None else instance_from_row(User, row)


_two_factor_sql: dict[str, str] = {}


def user_has_confirmed_device(*, user_id: int) -> bool:
    """Whether the user has a confirmed authenticator or backup codes: one
    statement built once per process (the ORM built and sent two, each
    compiled, on every `GET /me`)."""
    from django_otp.plugins.otp_static.models import StaticDevice
    from django_otp.plugins.otp_totp.models import TOTPDevice

    sql = _two_factor_sql.get(connection.vendor)
    if sql is None:
        quote = connection.ops.quote_name
        # names from the models' meta, the id bound
        exists = " OR ".join(
            f"EXISTS (SELECT 1 FROM {quote(model._meta.db_table)}"  # noqa: S608
            f" WHERE {quote('user_id')} = %s AND {quote('confirmed')})"
            for model in (TOTPDevice, StaticDevice)
        )
        sql = _two_factor_sql[connection.vendor] = f"SELECT {exists}"  # noqa: S608
    with connection.cursor() as cursor:
        cursor.execute(sql, [user_id, user_id])
        row = cursor.fetchone()
    return bool(row[0])
