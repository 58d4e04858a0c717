"""Alembic environment: migrations run on the connection Billow hands over."""

from __future__ import annotations

from alembic import context
from sqlalchemy import create_engine

config = context.config
connection = config.attributes.get("connection")

if connection is None:  # `alembic` run by hand: take the URL from the config or environment
    import os

    from billow.core.db.engine import normalize_url

    url = normalize_url(config.get_main_option("sqlalchemy.url") or os.environ.get(
        "BILLOW_DATABASE_URL", "sqlite:///billow.db"))
    with create_engine(url).connect() as conn:
        context.configure(connection=conn, render_as_batch=url.startswith("sqlite"))
        with context.begin_transaction():
            context.run_migrations()
        conn.commit()
else:
    context.configure(connection=connection, render_as_batch=connection.dialect.name == "sqlite")
    with context.begin_transaction():
        context.run_migrations()
