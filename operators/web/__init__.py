"""The ML lifecycle page of the Airflow UI (a FastAPI app the plugin mounts) and the URLs it and the links show."""
