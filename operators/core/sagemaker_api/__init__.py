"""SageMaker API requests, field by field, in the terms of our operators (pure: no I/O)."""
