"""Fixtures for the catalog tests (helpers live in catalog_testdata.py)."""

from __future__ import annotations

import pytest
from catalog_testdata import DATA

from billow.catalog.model import Catalog, CatalogVersion
from billow.catalog.xml import load_version_xml


@pytest.fixture(scope="session")
def gym_xml() -> str:
    return (DATA / "gym.xml").read_text(encoding="utf-8")


@pytest.fixture(scope="session")
def gym(gym_xml: str) -> CatalogVersion:
    return load_version_xml(gym_xml)


@pytest.fixture(scope="session")
def club() -> Catalog:
    return Catalog.of(load_version_xml(f.read_bytes()) for f in sorted((DATA / "versions").glob("*.xml")))
