"""Alembic's environment for the classroom tables, run by the store (never by a user's
``alembic`` command): the store passes its open connection in ``config.attributes``, already
inside a transaction, so the upgrade commits or rolls back with it."""

from alembic import context

from mnist_demo.classroom.schema import metadata

connection = context.config.attributes["connection"]
context.configure(connection=connection, target_metadata=metadata)
with context.begin_transaction():
    context.run_migrations()
