"""Alembic environment: runs on the connection handed over by `service.db.engine.migrate`."""

from alembic import context

from service.db.models import Base
from service.db.search import described_by_models

connection = context.config.attributes["connection"]
context.configure(
    connection=connection, target_metadata=Base.metadata, render_as_batch=True, include_name=described_by_models
)
with context.begin_transaction():
    context.run_migrations()
