"""Database engines, write transactions and migrations.

SQLite (the embedded default) runs in WAL mode with a busy timeout. Writes
take an in-process lock and then ``BEGIN IMMEDIATE``: a DEFERRED transaction
that later writes fails with "database is locked" under concurrency, and the
lock keeps one process from queueing on SQLite's own lock. If ``BEGIN
IMMEDIATE`` still times out (another process holds the database), the
connection is closed before the error propagates; Piccolo's own transaction
leaks it and the process then hangs at exit.
"""

from __future__ import annotations

import asyncio
import contextlib
import io
import sqlite3
import threading
from collections.abc import AsyncIterator, Mapping, Sequence
from typing import Any, cast

import aiosqlite
import asyncpg
from piccolo.engine.base import Engine
from piccolo.engine.postgres import PostgresEngine
from piccolo.engine.sqlite import SQLiteEngine, SQLiteTransaction, TransactionType, dict_factory

from backend.settings import DatabaseUrl

SQLITE_BUSY_TIMEOUT_S = 30.0
# Idle connections kept for statements outside a transaction while the pool is open.
SQLITE_IDLE_CONNECTIONS = 4


class SafeSQLiteTransaction(SQLiteTransaction):
    """A SQLite transaction that never leaks its connection when BEGIN fails."""

    async def __aenter__(self) -> SQLiteTransaction:
        if self._parent is not None:
            return self._parent
        self.connection = await self.get_connection()
        try:
            await self.begin()
        except BaseException:
            await self.connection.close()
            raise
        self.context = self.engine.current_transaction.set(self)
        return self


class FieldcaseSQLiteEngine(SQLiteEngine):
    """SQLite engine with WAL, a busy timeout and an in-process write lock."""

    __slots__ = ("_idle", "_keeper", "_pooling", "_write_lock", "_write_lock_loop")

    def __init__(self, path: str) -> None:
        super().__init__(path=path, timeout=SQLITE_BUSY_TIMEOUT_S)
        self._write_lock: asyncio.Lock | None = None
        self._write_lock_loop: asyncio.AbstractEventLoop | None = None
        self._keeper: sqlite3.Connection | None = None
        self._idle: list[Any] = []
        self._pooling = False

    @property
    def write_lock(self) -> asyncio.Lock:
        loop = asyncio.get_running_loop()
        if self._write_lock is None or self._write_lock_loop is not loop:
            self._write_lock = asyncio.Lock()
            self._write_lock_loop = loop
        return self._write_lock

    def transaction(  # type: ignore[override]
        self,
        transaction_type: TransactionType = TransactionType.deferred,
        allow_nested: bool = True,
    ) -> SQLiteTransaction:
        return SafeSQLiteTransaction(
            engine=self, transaction_type=transaction_type, allow_nested=allow_nested
        )

    def enable_wal(self) -> None:
        """WAL mode is stored in the database file; set it once at start-up."""
        path = self.path
        with contextlib.closing(sqlite3.connect(path, timeout=SQLITE_BUSY_TIMEOUT_S)) as conn:
            conn.execute("PRAGMA journal_mode=WAL")

    def keep_open(self) -> None:
        """Hold connections open between ``start_pool`` and ``close_pool``.

        Piccolo opens a connection (and a thread) for every statement outside a transaction
        and for every transaction: 2.6 ms for a one-row read here, against 0.35 ms on an open
        connection. So statements outside a transaction reuse idle connections. And when
        the last connection to a WAL database closes, SQLite checkpoints the whole log into
        the database and deletes it: one plain connection stays open so that a transaction
        closing its own does not pay that (5 ms against 7 ms a small write transaction)."""
        if self._keeper is None:
            self._keeper = sqlite3.connect(
                self.path, timeout=SQLITE_BUSY_TIMEOUT_S, check_same_thread=False
            )
            self._keeper.execute("SELECT 1 FROM sqlite_master LIMIT 1").fetchall()
        self._pooling = True

    async def release(self) -> None:
        """Close what ``keep_open`` holds (idle connections own threads that would keep
        the process from exiting)."""
        self._pooling = False
        idle, self._idle = self._idle, []
        for connection in idle:
            await connection.close()
        if self._keeper is not None:
            self._keeper.close()
            self._keeper = None

    async def _idle_connection(self) -> Any:
        """A connection like Piccolo's whose thread does not keep the process alive: an
        idle one left open when a process forgets ``close_pool`` must not hang its exit."""
        pending = aiosqlite.connect(**self.connection_kwargs)
        thread = getattr(pending, "_thread", None)
        if isinstance(thread, threading.Thread):
            thread.daemon = True
        connection = await pending
        connection.row_factory = cast(Any, dict_factory)  # aiosqlite types it as a class
        await connection.execute("PRAGMA foreign_keys = 1")
        return connection

    async def _run_in_new_connection(
        self,
        query: str,
        args: list[Any] | None = None,
        query_type: str = "generic",
        table: Any = None,
    ) -> Any:
        """One statement outside a transaction; on an idle connection while pooling."""
        if not self._pooling:
            return await super()._run_in_new_connection(query, args, query_type, table)
        connection = self._idle.pop() if self._idle else await self._idle_connection()
        try:
            async with connection.execute(query, args or []) as cursor:
                await connection.commit()
                rows = await cursor.fetchall()
        except BaseException:
            connection.stop()  # closes it in its own thread; nothing to await when cancelled
            raise
        if (
            self._pooling
            and not connection.in_transaction
            and len(self._idle) < SQLITE_IDLE_CONNECTIONS
        ):
            self._idle.append(connection)
        else:
            await connection.close()
        return rows


def build_engine(url: DatabaseUrl) -> Engine[Any]:
    if url.is_sqlite:
        assert url.path is not None
        url.path.parent.mkdir(parents=True, exist_ok=True)
        engine = FieldcaseSQLiteEngine(path=str(url.path))
        engine.enable_wal()
        return engine
    return PostgresEngine(
        config={
            "host": url.host,
            "port": url.port,
            "user": url.user,
            "password": url.password,
            "database": url.database,
        },
    )


def current_engine() -> Engine[Any]:
    import piccolo_conf

    return piccolo_conf.DB  # type: ignore[no-any-return]


def all_tables() -> list[type[Any]]:
    from piccolo.apps.migrations.tables import Migration

    import piccolo_conf

    tables: list[type[Any]] = [Migration]
    for app_config in piccolo_conf.APP_REGISTRY.app_configs.values():
        tables.extend(app_config.table_classes)
    return tables


def bind_engine(engine: Engine[Any]) -> None:
    """Point piccolo_conf and every table at ``engine`` (used by the app, CLI and tests)."""
    import piccolo_conf

    piccolo_conf.DB = engine
    for table in all_tables():
        table._meta.db = engine


def is_sqlite(engine: Engine[Any] | None = None) -> bool:
    return isinstance(engine or current_engine(), SQLiteEngine)


@contextlib.asynccontextmanager
async def write_tx() -> AsyncIterator[None]:
    """One write transaction; nested calls join the outer one."""
    engine = current_engine()
    if engine.current_transaction.get() is not None:
        yield
        return
    if isinstance(engine, FieldcaseSQLiteEngine):
        async with engine.write_lock:
            async with engine.transaction(transaction_type=TransactionType.immediate):
                yield
        return
    async with engine.transaction():
        yield


_NUMBERED: dict[str, str] = {}


def _numbered(sql: str) -> str:
    """``{}`` placeholders (as in Piccolo's ``raw``) as PostgreSQL's ``$1``, ``$2``..."""
    text = _NUMBERED.get(sql)
    if text is None:
        parts = sql.split("{}")
        text = parts[0] + "".join(f"${n}{part}" for n, part in enumerate(parts[1:], start=1))
        if len(_NUMBERED) < 4096:
            _NUMBERED[sql] = text
    return text


# Per engine, a few connections of its own for ``read`` (id(engine) -> (engine, pool)).
_read_pools: dict[int, tuple[Engine[Any], Any]] = {}
READ_POOL_SIZE = 4


async def read(table: type[Any], sql: str, *args: Any) -> Sequence[Mapping[str, Any]]:
    """The rows of the read-only ``sql`` (``{}`` placeholders), read by column name.

    For the few small reads every request makes (its session, the work poll): on
    PostgreSQL outside a transaction they go to connections of their own and come back as
    asyncpg records, without the ORM building the query and a dict per row (which cost
    more than the query). Those connections plan each statement once
    (``plan_cache_mode=force_generic_plan``): these reads have one good plan whatever the
    values (index lookups and range scans), but with a recent moment or a LIMIT as a
    parameter PostgreSQL judged the generic plan costlier and planned every execution
    again, about two thirds of its CPU for a poll. Otherwise (SQLite, in a transaction,
    no pool) ``table.raw``.
    """
    engine = current_engine()
    entry = _read_pools.get(id(engine))
    if entry is not None and entry[0] is engine and engine.current_transaction.get() is None:
        async with entry[1].acquire() as connection:
            rows: Sequence[Mapping[str, Any]] = await connection.fetch(_numbered(sql), *args)
            return rows
    found: Sequence[Mapping[str, Any]] = await table.raw(sql, *args).run()
    return found


async def _keep_session(connection: Any) -> None:
    """Reset nothing more when a connection goes back to the pool.

    asyncpg still rolls back an open transaction; its default reset query (RESET ALL,
    UNLISTEN, CLOSE, advisory unlock) would add a round trip to every query, and this
    application sets no session state: no SET, LISTEN, cursors or session-level locks
    (only transaction-level advisory locks, released at commit).
    """


async def start_pool(engine: Engine[Any], *, max_size: int = 10) -> None:
    """Long-lived connections for a process that serves or works in batches: PostgreSQL's
    pool and the few connections of ``read``, or SQLite's one connection held open (see
    ``keep_open``)."""
    if isinstance(engine, PostgresEngine):
        await engine.start_connection_pool(min_size=1, max_size=max_size, reset=_keep_session)
        if id(engine) not in _read_pools:
            pool = await asyncpg.create_pool(
                **engine.config,
                min_size=1,
                max_size=READ_POOL_SIZE,
                reset=_keep_session,
                # A statement per batch size: keep them all prepared.
                statement_cache_size=512,
                server_settings={"plan_cache_mode": "force_generic_plan"},
            )
            _read_pools[id(engine)] = (engine, pool)
    elif isinstance(engine, FieldcaseSQLiteEngine):
        engine.keep_open()


async def close_pool(engine: Engine[Any]) -> None:
    if isinstance(engine, PostgresEngine):
        entry = _read_pools.pop(id(engine), None)
        if entry is not None:
            await entry[1].close()
        if engine.pool is not None:
            await engine.close_connection_pool()
    elif isinstance(engine, FieldcaseSQLiteEngine):
        await engine.release()


async def migrate(engine: Engine[Any], *, quiet: bool = True) -> None:
    """Apply every committed migration of every app, in dependency order."""
    from piccolo.apps.migrations.commands.forwards import run_forwards

    bind_engine(engine)
    out = io.StringIO()
    with contextlib.redirect_stdout(out) if quiet else contextlib.nullcontext():
        result = await run_forwards(app_name="all")
    if not result.success:
        raise RuntimeError(f"migration failed: {result.message}")


async def ping(engine: Engine[Any]) -> None:
    await engine.run_ddl("SELECT 1")
