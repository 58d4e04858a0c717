"""Billow's own default catalog (``default.xml``), given to tenants created with ``useGlobalDefault=true``."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

from billow.catalog.model import Catalog, CatalogVersion

DEFAULT_CATALOG_PATH = Path(__file__).with_name("default.xml")


def default_catalog_xml() -> str:
    """The default catalog's XML text (what a tenant stores as its first version)."""
    return DEFAULT_CATALOG_PATH.read_text(encoding="utf-8")


@lru_cache(maxsize=1)
def default_catalog_version() -> CatalogVersion:
    """The default catalog as a validated version (parsed once per process)."""
    from billow.catalog.xml import load_version_xml

    return load_version_xml(DEFAULT_CATALOG_PATH.read_bytes())


def default_catalog() -> Catalog:
    """The default catalog as a one-version :class:`Catalog`."""
    return Catalog((default_catalog_version(),))
