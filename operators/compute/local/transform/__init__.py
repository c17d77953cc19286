"""Batch transform on a Docker engine: serving containers up, every input object through /invocations."""
