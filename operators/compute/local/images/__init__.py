"""Building images on the engine: content-addressed reuse, build secrets."""
