"""The push tests run on the bus tests' databases and buses."""

from tests.core.bus.conftest import bus_pg_url, db_url, make_bus, make_db, pg_url  # noqa: F401 - fixtures
