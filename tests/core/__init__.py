"""Tests of the pure core (ml_lifecycle.core) and the error hierarchy; no Docker, no AWS, no Airflow."""
