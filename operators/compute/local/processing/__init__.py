"""Processing jobs on a Docker engine: the training runner with processing's host contract."""
