"""The data layer: engine, schema conventions, unit of work, audit and history."""

from billow.core.db.engine import Database, normalize_url
from billow.core.db.schema import metadata
from billow.core.db.uow import UnitOfWork

__all__ = ["Database", "UnitOfWork", "metadata", "normalize_url"]
