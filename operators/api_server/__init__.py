"""The SageMaker-compatible API's server side: request authentication (and, as it grows, the API itself)."""
