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
          = None) -> None:
    """Serve Kill Bill's REST API (default port 8080, as Kill Bill)."""
    import uvicorn

    from billow.app import Billow
    from billow.core.clock import TestClock
    from billow.core.logs import configure
    from billow.invoice.billing_pool import default_processes
    from billow.rest.app import create_app
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
    server_properties = load_properties(properties)
    billow = Billow(database_url, TestClock(start) if test_mode else None, worker_threads=workers,
                    billing_processes=default_processes(server=True), properties=server_properties)
    billow.security.ensure_default_admin(password=admin_password or DEFAULT_PASSWORD)
    if billow.security.uses_default_password():
        log.warning("the default admin/password user is in use: set BILLOW_ADMIN_PASSWORD or change it")
    if demo:
        from billow.cli.demo import run_demo

        run_demo(billow, console())
    billow.start()
    log.info("Billow serving on http://%s:%d (database %s%s)", host, port, _safe_url(billow.db.url),
             ", test mode" if test_mode else "")
    try:
        uvicorn.run(create_app(billow, max_body_bytes=max_body_size), host=host, port=port, log_config=None,
                    access_log=False)
    finally:
        billow.close()


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
