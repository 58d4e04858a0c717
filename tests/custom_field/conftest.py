"""The tag tests' fixtures: one of each object custom fields hang on, a second tenant."""

from tests.tag.conftest import objects, other_tenant, world  # noqa: F401 - fixture re-exports
