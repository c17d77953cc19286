"""Serving containers: start them with a model under /opt/ml/model, reach them over HTTP."""
