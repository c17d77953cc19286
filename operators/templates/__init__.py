"""Dockerfile templates that turn a folder of Python code into a SageMaker-compatible train/serve image.

The templates (``*.Dockerfile.j2``) and the container runner (``sm_*.py``, standard library only) ship as package
data; ``ml_lifecycle.templates.render`` stages them with the user's code into a build context.
"""
