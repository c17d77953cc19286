"""Where a job's containers run: the local Docker engine (and, later, EC2 instances)."""
