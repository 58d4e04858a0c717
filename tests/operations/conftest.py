"""Fixtures of the operations tests: the entitlement tests' World (a tenant with the test catalog and an
account, on the test clock), as `w`."""

from __future__ import annotations

import pytest

from tests.entitlement.conftest import World, world  # noqa: F401 - fixture re-export


@pytest.fixture()
def w(world: World) -> World:  # noqa: F811 - the entitlement tests' fixture, under the scenarios' name
    return world
