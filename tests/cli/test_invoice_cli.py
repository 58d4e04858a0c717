"""`billow demo` ends with an invoice as HTML and PDF; `billow invoice render` writes one in a given locale."""

from __future__ import annotations

import re
from pathlib import Path

from typer.testing import CliRunner

from billow.app import Billow
from billow.cli.main import app
from billow.core.context import CallContext


def test_demo_writes_an_invoice_and_render_command(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'demo.db'}"
    runner = CliRunner()
    r = runner.invoke(app, ["demo", "--database-url", url], env={"COLUMNS": "200"})
    assert r.exit_code == 0, r.output
    html_path = Path(re.search(r"as HTML: (\S+)", r.output).group(1))  # type: ignore[union-attr]
    pdf_path = Path(re.search(r"as PDF: (\S+)", r.output).group(1))  # type: ignore[union-attr]
    assert html_path.parent == tmp_path / "billow-invoices"
    assert "<!DOCTYPE html>" in html_path.read_text() and pdf_path.read_bytes()[:5] == b"%PDF-"
    kb = Billow(url)
    try:
        tenant = kb.tenants.get_by_api_key("demo")
        ctx = CallContext().for_tenant(tenant.record_id, tenant.id)
        inv = next(i for a in ("demo-acme", "demo-dupont", "demo-smith")
                   for i in kb.invoices.of_account(ctx, kb.accounts.get_by_key(ctx, a).id) if i.items)
    finally:
        kb.close()
    out = tmp_path / "x.pdf"
    r = runner.invoke(app, ["invoice", "render", inv.id, "--format", "pdf", "--locale", "fr_FR", "-o", str(out),
                            "--database-url", url])
    assert r.exit_code == 0, r.output
    assert out.read_bytes()[:5] == b"%PDF-"
    r = runner.invoke(app, ["invoice", "render", inv.id, "--locale", "de_DE", "--database-url", url])
    assert r.exit_code == 0 and "Rechnungsdatum" in r.output
    r = runner.invoke(app, ["invoice", "render", inv.id, "--api-secret", "wrong", "--database-url", url])
    assert r.exit_code == 2
