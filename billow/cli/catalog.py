"""``billow catalog ...`` commands (a Typer sub-app, ``catalog_app``, mounted by the main CLI).

* ``billow catalog validate FILE...`` -- every error with its path, or a summary of
  versions, products and plans; exit code 0 when valid, 1 otherwise.  Several
  files are the versions of one catalog and are also validated together.
* ``billow catalog convert IN OUT`` -- XML <-> YAML <-> JSON (formats from the extensions).

The work is done by :func:`validate_files` and :func:`convert`, plain functions.
"""

from __future__ import annotations

from pathlib import Path

import typer
from rich.console import Console
from rich.markup import escape

from billow.catalog.errors import CatalogValidationError
from billow.catalog.model import Catalog, CatalogVersion
from billow.catalog.validation import lint_version, validate_catalog
from billow.catalog.yaml_json import convert_file, load_catalog_file

catalog_app = typer.Typer(
    help="Validate and convert catalogs (Kill Bill XML, YAML, JSON).", no_args_is_help=True
)


def _summary(version: CatalogVersion, source: str) -> str:
    return (
        f"{source}: catalog '{version.name}' effective {version.effective_date.isoformat()}: "
        f"{len(version.products)} products, {len(version.plans)} plans, "
        f"{len(version.price_lists)} price lists, currencies {', '.join(version.currencies) or '-'}"
    )


def validate_files(paths: list[Path]) -> tuple[bool, list[str]]:
    """Validate catalog files; returns (ok, report lines)."""
    lines: list[str] = []
    versions: list[tuple[Path, CatalogVersion]] = []
    ok = True
    for path in paths:
        try:
            version = load_catalog_file(path)
        except CatalogValidationError as e:
            ok = False
            lines.append(f"{path}: INVALID ({len(e.errors)} error{'s' if len(e.errors) != 1 else ''})")
            lines.extend(f"  {err.path or '(document)'}: {err.description}" for err in e.errors)
            continue
        except (OSError, ValueError) as e:
            ok = False
            lines.append(f"{path}: cannot read: {e}")
            continue
        versions.append((path, version))
    if ok and len(versions) > 1:
        catalog = Catalog.of(v for _, v in versions)
        errors = validate_catalog(catalog)
        if errors:
            ok = False
            lines.append(f"versions together: INVALID ({len(errors)} errors)")
            lines.extend(f"  {err.path}: {err.description}" for err in errors)
    if ok:
        for path, version in sorted(versions, key=lambda pv: pv[1].effective_date):
            lines.append(_summary(version, str(path)))
            lines.extend(f"  warning: {w.path}: {w.description}" for w in lint_version(version))
        if len(versions) > 1:
            lines.append(f"OK: {len(versions)} versions of catalog '{versions[0][1].name}'")
        else:
            lines.append("OK")
    return ok, lines


def convert(src: Path, dst: Path) -> CatalogVersion:
    """Convert ``src`` into ``dst`` (formats from the extensions); raises on an invalid source."""
    return convert_file(src, dst)


@catalog_app.command("validate")
def validate_cmd(
    files: list[Path] = typer.Argument(
        ..., help="Catalog files (.xml, .yaml, .yml, .json): versions of one catalog"
    ),
) -> None:
    """Validate catalogs: print every error with its path, or a short summary."""
    console = Console(soft_wrap=True)
    ok, lines = validate_files(files)
    for line in lines:
        console.print(escape(line), style=None if ok else ("red" if not line.startswith("  ") else None))
    raise typer.Exit(0 if ok else 1)


@catalog_app.command("convert")
def convert_cmd(
    src: Path = typer.Argument(..., help="Input catalog (.xml, .yaml, .yml, .json)"),
    dst: Path = typer.Argument(..., help="Output file; its extension chooses the format"),
) -> None:
    """Convert a catalog between Kill Bill XML, YAML and JSON (lossless)."""
    console = Console(soft_wrap=True)
    try:
        version = convert(src, dst)
    except CatalogValidationError as e:
        console.print(f"{escape(str(src))}: INVALID", style="red")
        for err in e.errors:
            console.print(f"  {escape(err.path or '(document)')}: {escape(err.description)}")
        raise typer.Exit(1) from None
    except (OSError, ValueError) as e:
        console.print(escape(f"error: {e}"), style="red")
        raise typer.Exit(1) from None
    console.print(escape(f"wrote {dst} ({len(version.products)} products, {len(version.plans)} plans)"))
