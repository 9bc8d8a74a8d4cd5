"""Runs as data: every finished run is a record in a store, and a sweep trains only what the
store lacks.

=============  ===============================================================================
``store``      :class:`RunStore`: one JSON record per run, atomic writes, tables of runs
``sweep``      :func:`sweep`: validate, find what is missing, plan batches, train, return the table
``executors``  where a batch trains: run shards here, worker processes, any concurrent Executor
``design``     :class:`Design`: a chapter's experiments, each run with its labels, and its manifest
=============  ===============================================================================

This layer uses the engine and nothing above it.
"""
