"""The `billow` command: serve the API, migrate the database, run the demo."""

from __future__ import annotations

import logging
import os
from datetime import datetime
from typing import Annotated

import typer
from rich.console import Console

from billow.cli.bill import bill
from billow.cli.catalog import catalog_app
from billow.cli.invoice import invoice_app

app = typer.Typer(no_args_is_help=True, help="Billow: subscription billing, wire-compatible with Kill Bill.")
db_app = typer.Typer(no_args_is_help=True, help="Database schema.")
app.add_typer(db_app, name="db")
app.add_typer(catalog_app, name="catalog")
app.add_typer(invoice_app, name="invoice")
app.command(name="bill")(bill)


def console() -> Console:
    """A console made when a command runs, so that it reads the terminal (and COLUMNS) of that run."""
    return Console()

DatabaseUrl = Annotated[str | None, typer.Option("--database-url", envvar="BILLOW_DATABASE_URL",
                                                  help="SQLAlchemy URL; default sqlite:///billow.db")]


@app.command()
def serve(host: str = "127.0.0.1", port: int = 8080, database_url: DatabaseUrl = None,
          test_mode: Annotated[bool, typer.Option("--test-mode", help="allow /1.0/kb/test/clock to set the time")]
          = False,
          test_clock: Annotated[str | None, typer.Option(
              "--test-clock", help="with --test-mode: the instant the clock starts at (ISO 8601; default now)")]
          = None,
          demo: Annotated[bool, typer.Option("--demo", help="create the demo tenant and accounts first")] = False,
          workers: Annotated[int, typer.Option(help="bus worker threads")] = 2,
          admin_password: Annotated[str | None, typer.Option(envvar="BILLOW_ADMIN_PASSWORD",
                                                             help="password of the first admin user")] = None,
          log_level: Annotated[str, typer.Option(envvar="BILLOW_LOG_LEVEL",
                                                 help="DEBUG, INFO, WARNING or ERROR")] = "INFO",
          access_log: Annotated[bool, typer.Option(envvar="BILLOW_ACCESS_LOG",
                                                   help="one INFO line per request")] = True,
          max_body_size: Annotated[int | None, typer.Option(
              envvar="BILLOW_MAX_BODY_BYTES", help="largest request body in bytes (default 10 MiB): 413 beyond")]
          = None,
          properties: Annotated[str | None, typer.Option(
              "--properties", envvar="BILLOW_PROPERTIES",
              help="Kill Bill properties file (org.killbill.*=value): the server's values, under each tenant's own")]
          = None,
          processes: Annotated[int, typer.Option(
              envvar="BILLOW_PROCESSES", help="HTTP worker processes on this node (PostgreSQL): one per core")] = 1,
          max_concurrent_requests: Annotated[int | None, typer.Option(
              envvar="BILLOW_MAX_CONCURRENT_REQUESTS",
              help="requests served at once per process (default: the database pool's size)")] = None,
          request_queue_size: Annotated[int | None, typer.Option(
              envvar="BILLOW_REQUEST_QUEUE_SIZE", help="requests waiting for a slot, beyond: 503 (default 200)")]
          = None,
          request_queue_timeout: Annotated[float | None, typer.Option(
              envvar="BILLOW_REQUEST_QUEUE_TIMEOUT", help="seconds a request waits for a slot, then 503 (default 1)")]
          = None,
          graceful_timeout: Annotated[float, typer.Option(
              help="on SIGTERM, seconds the requests in flight get before the bus stops")] = 10.0) -> None:
    """Serve Kill Bill's REST API (default port 8080, as Kill Bill)."""
    from billow.app import Billow
    from billow.core.bus.config import BusConfig
    from billow.core.bus.helpers import default_bus_processes
    from billow.core.clock import TestClock
    from billow.core.db.engine import DEFAULT_POOL_SIZE
    from billow.core.errors import InvalidInput
    from billow.core.logs import configure
    from billow.invoice.billing_pool import default_processes
    from billow.rest.admission import AdmissionLimits
    from billow.rest.server import WorkerSettings, serve_many, serve_one
    from billow.security.service import DEFAULT_PASSWORD

    if log_level.upper() not in ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"):
        raise typer.BadParameter(f"{log_level!r} is not one of DEBUG, INFO, WARNING, ERROR",
                                 param_hint="--log-level")
    configure(log_level, access_log=access_log)
    log = logging.getLogger("billow")
    start = None
    if test_clock is not None:
        if not test_mode:
            raise typer.BadParameter("--test-clock needs --test-mode", param_hint="--test-clock")
        try:
            start = datetime.fromisoformat(test_clock.replace("Z", "+00:00"))
        except ValueError:
            raise typer.BadParameter(f"'{test_clock}' is not an ISO 8601 instant", param_hint="--test-clock") from None
    if processes < 1:
        raise typer.BadParameter(f"{processes} is not a number of processes (1 or more)", param_hint="--processes")
    if processes > 1 and test_mode:
        raise typer.BadParameter("the test clock lives in one process: --test-mode needs --processes 1",
                                 param_hint="--processes")
    if not 0 < graceful_timeout <= 300:
        raise typer.BadParameter(f"{graceful_timeout} is not between 0 and 300 seconds",
                                 param_hint="--graceful-timeout")
    try:
        limits = AdmissionLimits.from_environment(DEFAULT_POOL_SIZE, concurrency=max_concurrent_requests,
                                                  queue_size=request_queue_size, queue_timeout=request_queue_timeout)
    except InvalidInput as e:
        raise typer.BadParameter(e.message) from None
    try:  # the bus's settings from the environment: a bad one is named here, not in a traceback
        BusConfig.from_environment()
        # several HTTP processes share the bus already; one process gets helper processes for its bus
        bus_helpers = default_bus_processes(server=True) if processes == 1 else 0
    except ValueError as e:
        raise typer.BadParameter(str(e), param_hint="the environment") from None
    server_properties = load_properties(properties)
    # a worker process runs the billing runs of its own bus: the cores are shared among the HTTP processes
    billing = max(1, default_processes(server=True) // processes)
    billow = Billow(database_url, TestClock(start) if test_mode else None, worker_threads=workers,
                    billing_processes=billing, bus_processes=bus_helpers, properties=server_properties)
    if processes > 1 and billow.db.is_sqlite:
        billow.close()
        raise typer.BadParameter("several processes share a PostgreSQL database, not SQLite", param_hint="--processes")
    billow.security.ensure_default_admin(password=admin_password or DEFAULT_PASSWORD)
    if billow.security.uses_default_password():
        log.warning("the default admin/password user is in use: set BILLOW_ADMIN_PASSWORD or change it")
    if demo:
        from billow.cli.demo import run_demo

        run_demo(billow, console())
    log.info("Billow serving on http://%s:%d (database %s%s%s)", host, port, _safe_url(billow.db.url),
             ", test mode" if test_mode else "", f", {processes} processes" if processes > 1 else "")
    if processes == 1:
        serve_one(billow, host=host, port=port, max_body_bytes=max_body_size, admission=limits,
                  graceful_timeout=graceful_timeout)
        return
    settings = WorkerSettings(database_url=billow.db.url, bus_workers=workers, billing_processes=billing,
                              max_body_bytes=max_body_size, concurrency=max_concurrent_requests,
                              queue_size=request_queue_size, queue_timeout=request_queue_timeout,
                              log_level=log_level, access_log=access_log)
    billow.close()  # each worker process builds its own
    serve_many(settings, host=host, port=port, processes=processes, graceful_timeout=graceful_timeout)


def load_properties(path: str | None) -> dict[str, str]:
    """The server's properties file, checked (a bad value names its property); worker processes read it too."""
    from billow.core.errors import InvalidInput
    from billow.tenant.settings import read_properties_file

    if not path:
        return {}
    try:
        values = read_properties_file(path)
    except OSError as e:
        raise typer.BadParameter(f"cannot read {path}: {e.strerror}", param_hint="--properties") from None
    except InvalidInput as e:
        raise typer.BadParameter(e.message, param_hint="--properties") from None
    os.environ["BILLOW_PROPERTIES"] = str(path)  # billing worker processes build their Billow from it
    return values


def _safe_url(url: str) -> str:
    """The database URL without its password, for logs."""
    from sqlalchemy.engine import make_url

    return make_url(url).render_as_string(hide_password=True)


@db_app.command("upgrade")
def db_upgrade(database_url: DatabaseUrl = None) -> None:
    """Apply the migrations."""
    from billow.core.db import Database

    db = Database(database_url or os.environ.get("BILLOW_DATABASE_URL"))
    db.upgrade()
    console().print(f"database at revision [bold]{db.current_revision()}[/bold]")


@app.command()
def demo(database_url: DatabaseUrl = None) -> None:
    """Create a demo tenant and accounts through the service API and print them."""
    from billow.app import Billow
    from billow.cli.demo import run_demo

    billow = Billow(database_url)
    try:
        billow.security.ensure_default_admin()
        run_demo(billow, console())
    finally:
        billow.close()


if __name__ == "__main__":  # pragma: no cover
    app()
