"""`billow invoice render INVOICE_ID --format html|pdf --locale fr_FR -o FILE` and the demo's invoice files.

Beyond Kill Bill (which has no CLI): the same rendering as ``GET /1.0/kb/invoices/{id}/html`` and ``/pdf``.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path
from typing import Annotated

import typer

from billow.app import Billow
from billow.core.context import CallContext

invoice_app = typer.Typer(no_args_is_help=True, help="Invoices people read: HTML and PDF.")


def write_invoice(billow: Billow, ctx: CallContext, invoice_id: str, path: Path, *, fmt: str,
                  locale: str | None = None) -> Path:
    presenter = billow.presentation
    if fmt == "pdf":
        path.write_bytes(presenter.pdf(ctx, invoice_id, locale=locale))
    else:
        path.write_text(presenter.html(ctx, invoice_id, locale=locale), encoding="utf-8")
    return path


def demo_output_dir(billow: Billow) -> Path:
    """Beside the SQLite database file when there is one, else in the system's temporary directory."""
    from sqlalchemy.engine import make_url

    url = make_url(billow.db.url)
    if url.get_backend_name() == "sqlite" and url.database and url.database != ":memory:":
        base = Path(url.database).resolve().parent
    else:
        base = Path(tempfile.gettempdir())
    out = base / "billow-invoices"
    out.mkdir(parents=True, exist_ok=True)
    return out


@invoice_app.command("render")
def render(invoice_id: Annotated[str, typer.Argument(help="the invoice id")],
           fmt: Annotated[str, typer.Option("--format", help="html or pdf")] = "html",
           locale: Annotated[str | None, typer.Option(help="e.g. fr_FR; default: the account's")] = None,
           output: Annotated[Path | None, typer.Option("-o", "--output", help="file to write; default stdout "
                                                                             "for html")] = None,
           api_key: Annotated[str, typer.Option(envvar="BILLOW_API_KEY", help="tenant API key")] = "demo",
           api_secret: Annotated[str, typer.Option(envvar="BILLOW_API_SECRET", help="tenant API secret")]
           = "demosecret",
           database_url: Annotated[str | None, typer.Option("--database-url", envvar="BILLOW_DATABASE_URL",
                                                            help="SQLAlchemy URL; default sqlite:///billow.db")]
           = None) -> None:
    """Render an invoice as HTML or PDF in the account's language (or --locale), with the tenant's template."""
    from billow.core.errors import BillowError

    if fmt not in ("html", "pdf"):
        raise typer.BadParameter("--format must be html or pdf")
    if fmt == "pdf" and output is None:
        raise typer.BadParameter("a PDF needs -o FILE")
    billow = Billow(database_url or os.environ.get("BILLOW_DATABASE_URL"), start_workers=False)
    try:
        tenant = billow.tenants.authenticate(api_key, api_secret)
        if tenant is None:
            typer.echo(f"no tenant for api key {api_key} with that secret", err=True)
            raise typer.Exit(2)
        ctx = CallContext(user_name="cli").for_tenant(tenant.record_id, tenant.id)
        try:
            if output is None:
                typer.echo(billow.presentation.html(ctx, invoice_id, locale=locale))
                return
            write_invoice(billow, ctx, invoice_id, output, fmt=fmt, locale=locale)
        except BillowError as exc:
            typer.echo(f"error: {exc.message}", err=True)
            raise typer.Exit(1) from None
        typer.echo(str(output))
    finally:
        billow.close()
