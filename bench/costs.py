"""Where a bench phase's time went: the CPU of Billow's processes and of PostgreSQL, and the rows PostgreSQL wrote,
each per invoice.

    meter = CostMeter(engine, pids=[os.getpid()])  # this process, its children and the given ones
    meter.start()
    ...                                            # the phase
    print(meter.line(invoices))

The CPU comes from /proc (user + system time): Billow's side is the given processes and their live children
(billing workers, bus helpers), PostgreSQL's every process whose command line starts with "postgres". So both
are seen only when the database runs on this machine (a `127.0.0.1` or `localhost` URL); otherwise the line
says so. The rows are the deltas of `pg_stat_user_tables` (inserted, updated, deleted). Backends report those
counters some time after their transactions commit (at most every second, later when idle), so each snapshot
first waits until the counters have caught up with the invoices the table holds (no invoice row is ever
deleted, so its inserts equal its rows once reported) and until they stand still (the phases end idle).
"""

from __future__ import annotations

import contextlib
import os
import time
from dataclasses import dataclass
from pathlib import Path

import sqlalchemy as sa

_STATS = "SELECT relname, n_tup_ins, n_tup_upd, n_tup_del FROM pg_stat_user_tables WHERE schemaname = current_schema()"


def cpu_seconds(pid: int, *, waited_children: bool = False) -> float:
    """User + system CPU of a process (from /proc), with that of its children it waited for when asked."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    last = 15 if waited_children else 13  # utime, stime[, cutime, cstime]
    return sum(int(x) for x in fields[11:last]) / os.sysconf("SC_CLK_TCK")


def process_tree(pid: int) -> set[int]:
    """A process and its live descendants."""
    out = {pid}
    for children in Path(f"/proc/{pid}/task").glob("*/children"):
        with contextlib.suppress(FileNotFoundError):  # the thread or the child ended meanwhile
            for c in children.read_text().split():
                out |= process_tree(int(c))
    return out


def _postgres_pids() -> set[int]:
    out = set()
    for p in Path("/proc").iterdir():
        if p.name.isdigit():
            with contextlib.suppress(OSError):
                if (p / "cmdline").read_bytes().startswith(b"postgres"):
                    out.add(int(p.name))
    return out


@dataclass
class _Snapshot:
    billow: dict[int, float]
    postgres: dict[int, float]
    rows: dict[str, tuple[int, int, int]]


class CostMeter:
    def __init__(self, engine: sa.Engine, pids: list[int]) -> None:
        self.engine = engine
        self.pids = pids
        self.local = engine.url.host in ("127.0.0.1", "localhost", "::1", None) and Path("/proc/self/stat").exists()
        self._start: _Snapshot | None = None
        self._wall = 0.0

    def _cpu(self, pids: set[int]) -> dict[int, float]:
        out = {}
        for pid in pids:
            with contextlib.suppress(FileNotFoundError, ProcessLookupError):
                out[pid] = cpu_seconds(pid)
        return out

    def _rows(self) -> dict[str, tuple[int, int, int]]:
        """The counters once reported: they account for every invoice the table holds, and they stood still for a
        second (the heartbeats of `node_infos` aside); at most 15 s of waiting."""
        deadline = time.monotonic() + 15
        last: dict[str, tuple[int, int, int]] | None = None
        with self.engine.connect() as conn:
            while True:
                conn.exec_driver_sql("SELECT pg_stat_clear_snapshot()")
                rows = {r[0]: (int(r[1]), int(r[2]), int(r[3])) for r in conn.exec_driver_sql(_STATS)}
                held = conn.exec_driver_sql("SELECT count(*) FROM invoices").scalar_one()
                conn.rollback()
                rows.pop("node_infos", None)
                if time.monotonic() > deadline or (rows.get("invoices", (0, 0, 0))[0] >= held and rows == last):
                    return rows
                last = rows
                time.sleep(1.1)

    def _snapshot(self) -> _Snapshot:
        billow: set[int] = set()
        for pid in self.pids:
            with contextlib.suppress(FileNotFoundError):
                billow |= process_tree(pid)
        return _Snapshot(self._cpu(billow), self._cpu(_postgres_pids()) if self.local else {}, self._rows())

    def start(self) -> None:
        self._start = self._snapshot()
        self._wall = time.perf_counter()

    def line(self, invoices: int) -> str:
        """CPU and rows of the phase since `start`, per invoice (the rows' counters are read after the CPU)."""
        assert self._start is not None
        wall = time.perf_counter() - self._wall
        end = self._snapshot()
        if not invoices:
            return "  costs: no invoice"

        def spent(before: dict[int, float], after: dict[int, float]) -> float:
            # a process that started during the phase counts from zero; one that ended is lost (none should)
            return sum(v - before.get(pid, 0.0) for pid, v in after.items())

        ins, upd, dele = (sum(end.rows[t][i] - self._start.rows.get(t, (0, 0, 0))[i] for t in end.rows)
                          for i in range(3))
        rows = (f"rows an invoice: {ins / invoices:.1f} inserted, {upd / invoices:.1f} updated, "
                f"{dele / invoices:.1f} deleted")
        if not self.local:
            return f"  costs: {rows} (CPU not measured: the database is not on this machine)"
        py, pg = spent(self._start.billow, end.billow), spent(self._start.postgres, end.postgres)
        own = {pid: v for pid, v in end.billow.items() if pid in self.pids}
        first = spent(self._start.billow, own)
        cores = os.cpu_count() or 1
        return (f"  costs: CPU {py:.1f} s Billow ({first:.1f} s in the main process{'es' if len(own) > 1 else ''}, "
                f"{py - first:.1f} s in their children) + {pg:.1f} s PostgreSQL over {wall:.1f} s on {cores} cores "
                f"({100 * (py + pg) / (wall * cores):.0f}% busy); an invoice: {1000 * py / invoices:.2f} + "
                f"{1000 * pg / invoices:.2f} ms CPU; {rows}")

    def table_lines(self, invoices: int) -> list[str]:
        """The rows each table gained, changed and lost since `start`, per invoice (for a closer look)."""
        assert self._start is not None
        end, out = self._rows(), []
        for table, now in sorted(end.items()):
            ins, upd, dele = (a - b for a, b in zip(now, self._start.rows.get(table, (0, 0, 0)), strict=True))
            if (ins or upd or dele) and invoices:
                out.append(f"    {table}: {ins / invoices:.2f} inserted, {upd / invoices:.2f} updated, "
                           f"{dele / invoices:.2f} deleted an invoice")
        return out
