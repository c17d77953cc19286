"""Async waits for deferrable operators and sensors (shipped in the package: the triggerer loads no DAG bundle)."""
