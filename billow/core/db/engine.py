"""The database: one SQLAlchemy engine, transactions as units of work, and migrations.

SQLite is the embedded default (WAL, foreign keys, write transactions begun
IMMEDIATE so that concurrent writers queue instead of failing); PostgreSQL
through psycopg 3 for production and for several nodes.

One unit of work, one connection: a thread that holds a unit of work never opens another one (the code it
calls takes the unit of work instead). Two pooled connections held by one thread deadlock a loaded server
(every connection taken by a thread waiting for its second), so `ConnectionGuard` watches the pool: strict
(tests, `BILLOW_STRICT_CONNECTIONS=1`) it refuses a nested unit of work and records any other second
checkout; otherwise it logs them.
"""

from __future__ import annotations

import functools
import logging
import os
import threading
import traceback
from collections.abc import Collection, Iterator
from contextlib import contextmanager
from datetime import timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, Engine, create_engine, event, text
from sqlalchemy.pool import StaticPool

from billow.core.clock import Clock, SystemClock
from billow.core.context import CallContext, internal_context
from billow.core.db.uow import EventWriter, UnitOfWork

log = logging.getLogger("billow.db")

DEFAULT_URL = "sqlite:///billow.db"
MIGRATION_LOCK_KEY = 0x62696C6C6F77  # "billow"
MIGRATIONS_DIR = Path(__file__).resolve().parents[2] / "migrations"
# PostgreSQL's autovacuum analyzes a table once more of its rows changed since the last analysis than
# autovacuum_analyze_threshold + autovacuum_analyze_scale_factor x its rows (defaults: 50 and 10%)
STALE_ROWS, STALE_FRACTION = 50, 0.1


def normalize_url(url: str) -> str:
    """Accept the URLs people write and pick our drivers (psycopg 3 for PostgreSQL)."""
    if url.startswith("postgres://"):
        url = "postgresql://" + url[len("postgres://"):]
    if url.startswith("postgresql://"):
        url = "postgresql+psycopg://" + url[len("postgresql://"):]
    return url


class NestedConnection(RuntimeError):
    """A thread holding a unit of work asked for a second one: pass the unit of work down instead."""


class ConnectionGuard:
    """Counts the pooled connections each thread holds (pool checkout/checkin events)."""

    def __init__(self, strict: bool) -> None:
        self.strict = strict
        self.violations: list[str] = []
        self._held: dict[int, int] = {}
        self._lock = threading.Lock()

    def held(self) -> int:
        return self._held.get(threading.get_ident(), 0)

    def on_checkout(self, _dbapi: Any, record: Any, _proxy: Any) -> None:
        me = threading.get_ident()
        record.info["billow_thread"] = me
        with self._lock:
            n = self._held.get(me, 0) + 1
            self._held[me] = n
        if n > 1:
            self.report("a second pooled connection was checked out by a thread that holds one")

    def on_checkin(self, _dbapi: Any, record: Any) -> None:
        owner = record.info.pop("billow_thread", None)
        if owner is None:
            return
        with self._lock:
            n = self._held.get(owner, 0) - 1
            if n > 0:
                self._held[owner] = n
            else:
                self._held.pop(owner, None)

    def report(self, what: str) -> None:
        stack = "".join(traceback.format_stack(limit=12)[:-2])
        with self._lock:
            self.violations.append(f"{what}\n{stack}")
        log.warning("%s (nested connections deadlock a loaded server)", what, stack_info=True)


def _strict_default() -> bool:
    return os.environ.get("BILLOW_STRICT_CONNECTIONS", "") not in ("", "0", "false")


# connections kept per process (as many again may be opened under load): also the HTTP requests served at once
DEFAULT_POOL_SIZE = 10


class Database:
    def __init__(self, url: str | None = None, clock: Clock | None = None, *, outbox: EventWriter | None = None,
                 pool_size: int = DEFAULT_POOL_SIZE, echo: bool = False,
                 strict_connections: bool | None = None) -> None:
        self.url = normalize_url(url or DEFAULT_URL)
        self.clock: Clock = clock or SystemClock()
        self.is_sqlite = self.url.startswith("sqlite")
        # where the events a unit of work posts are written, in its transaction (the bus's outbox)
        self.outbox = outbox
        self.pool_size = pool_size
        self._sqlite_write_lock = threading.RLock()
        self.guard = ConnectionGuard(_strict_default() if strict_connections is None else strict_connections)
        self.engine: Engine = self._make_engine(pool_size, echo)
        event.listen(self.engine, "checkout", self.guard.on_checkout)
        event.listen(self.engine, "checkin", self.guard.on_checkin)

    # -- engine -------------------------------------------------------------------------------
    def _make_engine(self, pool_size: int, echo: bool) -> Engine:
        if self.is_sqlite:
            in_memory = self.url in ("sqlite://", "sqlite:///:memory:")
            engine = create_engine(
                self.url,
                echo=echo,
                connect_args={"check_same_thread": False, "timeout": 30},
                # a pooled connection: closing a WAL connection costs a checkpoint (~3 ms)
                poolclass=StaticPool if in_memory else None,
            )

            @event.listens_for(engine, "connect")
            def _on_connect(dbapi_conn: Any, _rec: Any) -> None:
                dbapi_conn.isolation_level = None  # we issue BEGIN ourselves
                cur = dbapi_conn.cursor()
                cur.execute("PRAGMA journal_mode=WAL")
                cur.execute("PRAGMA foreign_keys=ON")
                cur.execute("PRAGMA synchronous=NORMAL")
                cur.execute("PRAGMA busy_timeout=30000")
                cur.close()

            @event.listens_for(engine, "begin")
            def _on_begin(conn: Connection) -> None:
                if conn.get_execution_options().get("billow_read_only"):
                    conn.exec_driver_sql("BEGIN")
                else:
                    conn.exec_driver_sql("BEGIN IMMEDIATE")

            return engine
        # no pre-ping (a round trip per transaction); stale connections are recycled instead
        return create_engine(self.url, echo=echo, pool_size=pool_size, max_overflow=pool_size, pool_recycle=1800)

    @property
    def dialect(self) -> str:
        return self.engine.dialect.name

    # -- transactions -------------------------------------------------------------------------
    def _enter(self) -> None:
        if self.guard.held():
            if self.guard.strict:
                raise NestedConnection("this thread already holds a unit of work: pass it down (the internal "
                                       "API takes the caller's unit of work) instead of opening another")
            self.guard.report("a unit of work was opened by a thread that holds one")

    @contextmanager
    def transaction(self, ctx: CallContext) -> Iterator[UnitOfWork]:
        """A read-write unit of work: commits on success, rolls back on any exception."""
        self._enter()
        lock = self._sqlite_write_lock if self.is_sqlite else None
        if lock is not None:
            lock.acquire()
        try:
            with self.engine.connect() as conn:
                uow = UnitOfWork(conn, ctx, self.clock.utcnow(), is_sqlite=self.is_sqlite, outbox=self.outbox)
                with conn.begin():
                    yield uow
                    uow.flush_history()
                    uow.flush_events()
                uow.run_after_commit()
        finally:
            if lock is not None:
                lock.release()

    @contextmanager
    def read(self, ctx: CallContext | None = None) -> Iterator[UnitOfWork]:
        """A read-only unit of work (no write lock taken on SQLite); writes through it are refused."""
        self._enter()
        with self.engine.connect() as conn:
            conn = conn.execution_options(billow_read_only=True)
            with conn.begin():
                yield UnitOfWork(conn, ctx or internal_context(), self.clock.utcnow(), is_sqlite=self.is_sqlite,
                                 readonly=True)

    @contextmanager
    def read_connection(self) -> Iterator[Connection]:
        """A read-only connection outside any unit of work: the bus's own queries, operator tools, tests."""
        self._enter()
        with self.engine.connect() as conn:
            conn = conn.execution_options(billow_read_only=True)
            with conn.begin():
                yield conn

    @contextmanager
    def connection(self) -> Iterator[Connection]:
        """A plain connection outside any unit of work (migrations, maintenance, the bus's own claims)."""
        self._enter()
        with self.engine.connect() as conn:
            yield conn

    # -- migrations ---------------------------------------------------------------------------
    def _alembic_config(self, conn: Connection) -> Any:
        from alembic.config import Config

        cfg = Config()
        cfg.set_main_option("script_location", str(MIGRATIONS_DIR))
        cfg.attributes["connection"] = conn
        return cfg

    def upgrade(self, revision: str = "head") -> None:
        """Apply the Alembic migrations (the only way the schema is created)."""
        from alembic import command

        with self.engine.connect() as conn:
            if not self.is_sqlite:
                # several nodes may start at once: one migrates, the others wait for it
                conn.execute(text("SELECT pg_advisory_lock(:k)"), {"k": MIGRATION_LOCK_KEY})
                conn.commit()
            try:
                before = self._revision_on(conn)
                if conn.in_transaction():
                    conn.commit()  # Alembic begins its own transaction
                command.upgrade(self._alembic_config(conn), revision)
                if conn.in_transaction():
                    conn.commit()
                after = self._revision_on(conn)
                if after != before:  # one line for the operator (Alembic's own lines are quieted)
                    log.info("database schema migrated from %s to %s", before or "empty", after)
                if conn.in_transaction():
                    conn.commit()
            finally:
                if not self.is_sqlite:
                    conn.execute(text("SELECT pg_advisory_unlock(:k)"), {"k": MIGRATION_LOCK_KEY})
                    conn.commit()

    def current_revision(self) -> str | None:
        with self.engine.connect() as conn:
            return self._revision_on(conn)

    def _revision_on(self, conn: Connection) -> str | None:
        row = conn.execute(text("SELECT version_num FROM alembic_version")).first() if self._has_version_table(
            conn) else None
        return row[0] if row else None

    @staticmethod
    def _has_version_table(conn: Connection) -> bool:
        from sqlalchemy import inspect

        return inspect(conn).has_table("alembic_version")

    def head_revision(self) -> str | None:
        from alembic.config import Config
        from alembic.script import ScriptDirectory

        cfg = Config()
        cfg.set_main_option("script_location", str(MIGRATIONS_DIR))
        return ScriptDirectory.from_config(cfg).get_current_head()

    def vacuum(self, *tables: str, analyze: bool = True) -> None:
        """PostgreSQL: `VACUUM (ANALYZE)` a table that churns, when it is full (the billing schedule after a
        run: every billed account deleted its rows and wrote next month's).

        Until its dead rows are vacuumed each read walks them, and a deployment whose autovacuum is off (as
        on our test machines) or lags slows down month after month. Not with ANALYZE for the bus tables: they swing
        between empty and full, and statistics taken while empty make the planner choose nested scans once full
        (the bus vacuums them without it: `Dispatcher.vacuum_if_due`).
        Runs outside any transaction, takes no lock that blocks readers or writers; a no-op on SQLite.
        `analyze=False` for big append-only tables: only their new pages are visited, marked visible (so that
        counts by index stay index-only), and no sample is read (ANALYZE of two 130,000-row history tables took
        1.2 s, the VACUUM alone 0.08 s)."""
        self._maintain("VACUUM (ANALYZE)" if analyze else "VACUUM", tables)

    def analyze(self, *tables: str) -> None:
        """PostgreSQL: `ANALYZE` tables just filled (the bus tables after a bulk load put hundreds of thousands of
        events in them). Without statistics the planner takes a few hundred rows for a full queue, and a claim
        then reads every ready row and sorts them (550 ms a claim at 276,000 events, against 21 ms once
        analyzed). Statistics of a full table stay good once it empties; those of an empty table are what
        `vacuum` must not take of the bus tables. A no-op on SQLite."""
        self._maintain("ANALYZE", tables)

    def analyze_stale(self, *tables: str, exclude: Collection[str] = (),
                      unless_analyzed_within: timedelta | None = None) -> list[str]:
        """PostgreSQL: `ANALYZE` those of `tables` (none given: every table of the schema but `exclude`) whose
        statistics are stale by autovacuum's own rule: more rows changed since their last analysis than
        50 + 10% of their rows. Returns the tables analyzed; a no-op on SQLite.

        `unless_analyzed_within` spares a stale table analyzed that recently, unless it never was or has more
        than doubled since (its rows against `pg_class.reltuples`, the count its last analysis took): a table
        that grows is analyzed at once, one that churns at most that often (an ANALYZE samples 30,000 rows).

        Our reads by sets of ids (`= ANY(array)`, see `sets.in_values`) run as prepared statements, and the
        server plans them once for any array and keeps that plan until the table's next analysis. On a table
        never analyzed that plan reads the tenant's or the accounts' rows through the first index that matches
        and tests each against the whole array: the payment handler's reads of the invoices a billing run made
        cost 8 ms at first, 200 ms a statement after ten months of 2,000 accounts (autovacuum off, as here). With
        statistics it probes the invoices' own index: 1.3 ms. The same plans, made while the accounts' tables
        held a few hundred rows, made creating 10,000 accounts take 126 s instead of 74 s. Where autovacuum
        runs, it has usually done this already; where it is off or lags behind a table that grows fast (a
        billing day, a bulk load, a new deployment's first customers), this does it."""
        if self.is_sqlite:
            return []
        q = ("SELECT s.relname, s.n_mod_since_analyze, s.n_live_tup, c.reltuples, "
             "EXTRACT(EPOCH FROM now() - GREATEST(s.last_analyze, s.last_autoanalyze)) AS age "
             "FROM pg_stat_user_tables s JOIN pg_class c ON c.oid = s.relid "
             "WHERE s.schemaname = current_schema()")
        with self.engine.connect() as conn:
            rows = conn.execute(text(q)).all()
        wanted = set(tables)
        within = unless_analyzed_within.total_seconds() if unless_analyzed_within is not None else None

        def due(r: Any) -> bool:
            if r.n_mod_since_analyze <= STALE_ROWS + STALE_FRACTION * r.n_live_tup:
                return False
            if within is None or r.age is None or r.reltuples < 0 or r.n_live_tup > 2 * r.reltuples:
                return True
            return float(r.age) >= within

        stale = tuple(sorted(
            r.relname for r in rows
            if (r.relname in wanted if wanted else r.relname not in exclude) and due(r)))
        if stale:
            log.info("analyzing tables with stale statistics: %s", ", ".join(stale))
            self._maintain("ANALYZE", stale)
        return list(stale)

    def _maintain(self, command: str, tables: tuple[str, ...]) -> None:
        """A maintenance command on tables, outside any transaction (PostgreSQL only)."""
        if self.is_sqlite or not tables:
            return
        names = ", ".join(f'"{t}"' for t in tables)
        with self.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.exec_driver_sql(f"{command} {names}")

    def lock_table_size(self) -> int | None:
        """PostgreSQL's shared lock table, for the whole server: `max_locks_per_transaction` x (`max_connections`
        + `max_prepared_transactions`) entries, which every advisory lock held takes one of (None on SQLite)."""
        if self.is_sqlite:
            return None
        with self.engine.connect() as conn:
            return int(conn.execute(text(
                "SELECT current_setting('max_locks_per_transaction')::int * (current_setting('max_connections')::int"
                " + current_setting('max_prepared_transactions')::int)")).scalar_one())

    def ping(self) -> bool:
        with self.engine.connect() as conn:
            conn.execute(text("SELECT 1"))
        return True

    def dispose(self) -> None:
        self.engine.dispose()


@functools.lru_cache(maxsize=1)
def _head_revision() -> str | None:
    from alembic.config import Config
    from alembic.script import ScriptDirectory

    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS_DIR))
    return ScriptDirectory.from_config(cfg).get_current_head()
