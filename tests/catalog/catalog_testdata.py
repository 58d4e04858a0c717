"""Paths and loaders for the catalog tests: our data in ./data, Kill Bill's catalogs in ../shared if present."""

from __future__ import annotations

from pathlib import Path

import pytest

from billow.catalog.model import Catalog, CatalogVersion
from billow.catalog.xml import load_version_xml

DATA = Path(__file__).resolve().parent / "data"
REFERENCE = Path(__file__).resolve().parents[2].parent / "shared" / "reference" / "catalogs"


def reference_files() -> list[Path]:
    """Every reference catalog file (empty when ../shared is absent)."""
    if not REFERENCE.is_dir():
        return []
    return sorted(REFERENCE.rglob("*.xml"))


def ref_path(relative: str) -> Path:
    path = REFERENCE / relative
    if not path.is_file():
        pytest.skip(f"Kill Bill reference catalogs not available ({REFERENCE} is absent)")
    return path


def load_ref(relative: str) -> CatalogVersion:
    return load_version_xml(ref_path(relative).read_bytes())


def load_ref_catalog(folder: str) -> Catalog:
    path = ref_path(folder) if (REFERENCE / folder).is_file() else REFERENCE / folder
    if not path.is_dir():
        pytest.skip(f"Kill Bill reference catalogs not available ({REFERENCE} is absent)")
    return Catalog.of(load_version_xml(f.read_bytes()) for f in sorted(path.glob("*.xml")))
