"""A script-mode job's code: packed as the SageMaker SDK packs it, content-addressed, uploaded once."""
