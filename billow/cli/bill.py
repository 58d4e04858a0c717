"""`billow bill`: the billing run from the command line, with a Rich progress bar.

Bills every account whose next billing date is due (all tenants, or one), in batches of accounts
(one transaction per batch, set-based reads, multi-row writes; see `billow.invoice.billing_run`). On
PostgreSQL the other live nodes (`billow serve`) bill with it when more than one batch is due.
With `--date D` the run happens as of D (end of day, UTC): useful to back-fill or to rehearse a day.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time
from typing import Annotated

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn


def console() -> Console:
    """A console made when a command runs, so that it reads the terminal (and COLUMNS) of that run."""
    return Console()


def bill(date_: Annotated[str | None, typer.Option("--date", help="bill as of this day (YYYY-MM-DD)")] = None,
         database_url: Annotated[str | None, typer.Option("--database-url", envvar="BILLOW_DATABASE_URL")] = None,
         batch_size: Annotated[int, typer.Option(help="accounts per transaction")] = 500,
         tenant: Annotated[int | None, typer.Option(help="tenant record id (default: all tenants)")] = None) -> None:
    """Bill every account due (Kill Bill's next-billing-date notifications, as one batched run)."""
    from billow.app import Billow
    from billow.core.clock import TestClock
    from billow.invoice.billing_pool import default_processes

    clock = None
    if date_ is not None:
        try:
            day = date.fromisoformat(date_)
        except ValueError:
            raise typer.BadParameter(f"'{date_}' is not a date (YYYY-MM-DD)", param_hint="--date") from None
        clock = TestClock(datetime.combine(day, time(23, 59, 59), tzinfo=UTC))
    kb = Billow(database_url, clock, billing_processes=default_processes(server=True))
    kb.bus.start(dispatch=False)  # a heartbeat: if this process dies, its claimed accounts are billed by others
    now = kb.clock.utcnow()
    due = kb.invoices.count_due(tenant, now)
    out = console()
    with Progress(TextColumn("billing"), BarColumn(), MofNCompleteColumn(), TextColumn("{task.fields[inv]} invoices"),
                  TimeElapsedColumn(), console=out) as progress:
        task = progress.add_task("bill", total=due, inv=0)

        def advance(accounts: int, invoices: int) -> None:
            progress.update(task, completed=min(accounts, due), inv=invoices)

        # the other live nodes (`billow serve`) are asked to bill with this run, as for a notification's run
        report = kb.invoices.run_shared(tenant=tenant, now=now, batch_size=batch_size, progress=advance)
    out.print(f"{report.accounts} accounts, {report.invoices} invoices, {report.null_runs} with nothing new; "
                  f"{len(report.failed)} failed (to retry), {len(report.parked)} parked")
    kb.close()
    if report.failed or report.parked:
        raise typer.Exit(1)
