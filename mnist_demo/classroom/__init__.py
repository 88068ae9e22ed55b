"""A class's drawings and runs in a database, the board's figures and the exports.

:mod:`.store` is the one way in (:class:`~.store.ClassStore`); :mod:`.schema` holds the tables,
:mod:`.migrations` their history (alembic, run by the store when it opens a database),
:mod:`.keys` the codes and teacher keys, and :mod:`.export` the pool and run downloads.
"""
