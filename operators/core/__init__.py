"""Pure core: specs, the /opt/ml contract, naming, status rules, batching, metrics. No SDK imports."""
