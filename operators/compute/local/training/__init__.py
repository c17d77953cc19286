"""Training on a Docker engine: the runner that lays out /opt/ml, runs the hosts and exports the outputs."""
