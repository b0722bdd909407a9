"""The bulk insert behind ``send()``: rows and their cursors in one statement where it can.

``send()`` writes one row per recipient with every other field the same. On
PostgreSQL a single statement bumps each recipient's inbox counter (an
upsert that also takes the row lock the cursor order relies on) and inserts
the rows from it, passing the shared values once and the recipients as one
array: one round trip, whatever the number of recipients. SQLite (3.35+,
``RETURNING``) takes two statements inside one transaction. Other databases
use the portable path in ``NotificationQuerySet.bulk_create``.

The column list comes from the model's concrete fields, so a field added
to ``Notification`` is written here without touching this module.

With an idempotency ``key`` the insert skips recipients who already have a
row with that key, and ``ON CONFLICT (recipient, key) DO NOTHING`` settles
the race between concurrent senders on the unique constraint (never check
then insert): the loser inserts nothing and gets no row back. A lost race
burns one cursor of that user, which clients do not notice (cursors only
need to increase).
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Sequence
from typing import Any

from django.db import connections

# Recipients per PostgreSQL statement: one array parameter, so only memory bounds it.
_PG_CHUNK = 20_000
# Recipients per SQLite statement (one JSON parameter).
_SQLITE_CHUNK = 5_000


def pg_array(values: Sequence[Any]) -> Any:
    """A PostgreSQL array parameter: integers as one ``{1,2,3}`` literal, the rest as a list.

    psycopg adapts a list element by element (a tenth of a second for
    20 000 ids); the text of an integer array needs no quoting.
    """
    if all(type(v) is int for v in values):
        return "{" + ",".join(map(str, values)) + "}"
    return list(values)


def supported(using: str) -> bool:
    """Return whether ``insert()`` works on the database ``using``."""
    vendor = connections[using].vendor
    if vendor == "postgresql":
        return True
    return vendor == "sqlite" and sqlite3.sqlite_version_info >= (3, 35)


def insert(
    model: Any, user_ids: Sequence[Any], values: dict[str, Any], *, using: str
) -> list[tuple[Any, Any, int]]:
    """Insert one ``model`` row per user with ``values``; return ``(pk, user_id, cursor)``.

    Must run inside a transaction when it takes more than one statement
    (SQLite, or more recipients than one chunk): the caller wraps it.
    """
    connection = connections[using]
    plan = _Plan(model, values, connection)
    rows: list[tuple[Any, Any, int]] = []
    if connection.vendor == "postgresql":
        for start in range(0, len(user_ids), _PG_CHUNK):
            rows += plan.postgresql(user_ids[start : start + _PG_CHUNK])
    else:
        for start in range(0, len(user_ids), _SQLITE_CHUNK):
            rows += plan.sqlite(user_ids[start : start + _SQLITE_CHUNK])
    return rows


def statements(count: int, using: str) -> int:
    """How many statements ``insert()`` runs for ``count`` recipients."""
    if connections[using].vendor == "postgresql":
        return -(-count // _PG_CHUNK)
    return 2 * -(-count // _SQLITE_CHUNK)


def bump_cursors(inbox: Any, counts: dict[Any, int], *, using: str) -> dict[Any, int]:
    """Add ``counts[user_id]`` to each user's inbox counter; return the first new cursor of each.

    One upsert statement per chunk (the row locks it takes are held until the
    transaction ends). Only where ``supported()``.
    """
    connection = connections[using]
    q = connection.ops.quote_name
    meta = inbox._meta
    user = meta.get_field("user")
    table, user_col, last = q(meta.db_table), q(user.column), q("last_cursor")
    prep = user.target_field.get_db_prep_value
    ordered = sorted(counts)
    first: dict[Any, int] = {}
    with connection.cursor() as cursor:
        for start in range(0, len(ordered), _SQLITE_CHUNK):
            chunk = ordered[start : start + _SQLITE_CHUNK]
            by_db = {prep(pk, connection): pk for pk in chunk}
            if connection.vendor == "postgresql":
                db_type = user.target_field.rel_db_type(connection)
                cursor.execute(
                    f"INSERT INTO {table} ({user_col}, {last}) "
                    f"SELECT u, n FROM unnest(%s::{db_type}[], %s::bigint[]) AS t(u, n) "
                    f"ORDER BY u "
                    f"ON CONFLICT ({user_col}) DO UPDATE SET {last} = {table}.{last} + "
                    f"EXCLUDED.{last} RETURNING {user_col}, {last}",
                    [pg_array(list(by_db)), pg_array([counts[pk] for pk in by_db.values()])],
                )
            else:
                cursor.execute(
                    f"INSERT INTO {table} ({user_col}, {last}) "
                    f"SELECT json_extract(value, '$[0]'), json_extract(value, '$[1]') "
                    f"FROM json_each(%s) WHERE true "
                    f"ON CONFLICT ({user_col}) DO UPDATE SET {last} = {last} + excluded.{last} "
                    f"RETURNING {user_col}, {last}",
                    [json.dumps([[db, counts[pk]] for db, pk in by_db.items()])],
                )
            for db_value, last_cursor in cursor.fetchall():
                pk = by_db[_normalise(db_value, by_db)]
                first[pk] = last_cursor - counts[pk] + 1
    return first


def _normalise(db_value: Any, by_db: dict[Any, Any]) -> Any:
    # The database may hand a key back in another type than we sent it
    # (SQLite "5" for 5): match on the text form when the value itself misses.
    if db_value in by_db:
        return db_value
    for candidate in by_db:
        if str(candidate) == str(db_value):
            return candidate
    raise LookupError(f"The database returned an unknown user key {db_value!r}.")


class _Plan:
    """The column list and shared parameters of one ``insert()``."""

    def __init__(self, model: Any, values: dict[str, Any], connection: Any) -> None:
        from .models import Inbox

        self.connection = connection
        q = connection.ops.quote_name
        meta = model._meta
        recipient = meta.get_field("recipient")
        self.recipient = recipient
        self.table = q(meta.db_table)
        self.inbox = q(Inbox._meta.db_table)
        self.inbox_user = q(Inbox._meta.get_field("user").column)
        self.last = q("last_cursor")
        self.pk = q(meta.pk.column)
        self.recipient_col = q(recipient.column)
        self.cursor_col = q(meta.get_field("cursor").column)
        shared = [
            f
            for f in meta.concrete_fields
            if f is not meta.pk and f.attname not in {recipient.attname, "cursor"}
        ]
        self.columns = ", ".join(q(f.column) for f in shared)
        self.params = [f.get_db_prep_save(values[f.attname], connection) for f in shared]
        self.placeholders = ", ".join(["%s"] * len(shared))
        self.key = values.get("key") or ""
        key_col = q(meta.get_field("key").column)
        if self.key:
            # The predicate spelled as the conditional UniqueConstraint compiles
            # it, so that PostgreSQL infers that partial index as the arbiter.
            self.on_conflict = (
                f"ON CONFLICT ({self.recipient_col}, {key_col}) "
                f"WHERE NOT ({key_col} = '') DO NOTHING "
            )
            self.fresh = (
                f"NOT EXISTS (SELECT 1 FROM {self.table} AS existing WHERE "
                f"existing.{self.recipient_col} = {{user}} AND existing.{key_col} = %s)"
            )
        else:
            self.on_conflict = ""
            self.fresh = ""

    def _prep_users(self, user_ids: Sequence[Any]) -> dict[Any, Any]:
        prep = self.recipient.target_field.get_db_prep_value
        return {prep(pk, self.connection): pk for pk in user_ids}

    def postgresql(self, user_ids: Sequence[Any]) -> list[tuple[Any, Any, int]]:
        by_db = self._prep_users(sorted(user_ids))
        db_type = self.recipient.target_field.rel_db_type(self.connection)
        where = f"WHERE {self.fresh.format(user='u')} " if self.key else ""
        sql = (
            f"WITH bumped AS ("
            f"INSERT INTO {self.inbox} ({self.inbox_user}, {self.last}) "
            f"SELECT u, 1 FROM unnest(%s::{db_type}[]) AS u {where}ORDER BY u "
            f"ON CONFLICT ({self.inbox_user}) DO UPDATE "
            f"SET {self.last} = {self.inbox}.{self.last} + 1 "
            f"RETURNING {self.inbox_user} AS u, {self.last} AS c) "
            f"INSERT INTO {self.table} ({self.recipient_col}, {self.cursor_col}, {self.columns}) "
            f"SELECT u, c, {self.placeholders} FROM bumped {self.on_conflict}"
            f"RETURNING {self.pk}, {self.recipient_col}, {self.cursor_col}"
        )
        key = [self.key] if self.key else []
        return self._run(sql, [pg_array(list(by_db)), *key, *self.params], by_db)

    def sqlite(self, user_ids: Sequence[Any]) -> list[tuple[Any, Any, int]]:
        by_db = self._prep_users(sorted(user_ids))
        where = self.fresh.format(user="value") if self.key else "true"
        with self.connection.cursor() as cursor:
            cursor.execute(
                f"INSERT INTO {self.inbox} ({self.inbox_user}, {self.last}) "
                f"SELECT value, 1 FROM json_each(%s) WHERE {where} "
                f"ON CONFLICT ({self.inbox_user}) DO UPDATE SET {self.last} = {self.last} + 1 "
                f"RETURNING {self.inbox_user}, {self.last}",
                [json.dumps(list(by_db)), *([self.key] if self.key else [])],
            )
            pairs = cursor.fetchall()
        if not pairs:
            return []
        sql = (
            f"INSERT INTO {self.table} ({self.recipient_col}, {self.cursor_col}, {self.columns}) "
            f"SELECT json_extract(value, '$[0]'), json_extract(value, '$[1]'), "
            f"{self.placeholders} FROM json_each(%s) WHERE true {self.on_conflict}"
            f"RETURNING {self.pk}, {self.recipient_col}, {self.cursor_col}"
        )
        return self._run(sql, [*self.params, json.dumps(pairs)], by_db)

    def _run(self, sql: str, params: list[Any], by_db: dict[Any, Any]) -> list:
        with self.connection.cursor() as cursor:
            cursor.execute(sql, params)
            rows = cursor.fetchall()
        return [(pk, by_db[_normalise(user, by_db)], cursor_) for pk, user, cursor_ in rows]
