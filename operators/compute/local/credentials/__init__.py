"""The execution role on the local engine: assumed through the Airflow AWS connection, served to containers as ECS does."""
