"""Secrets a container gets at run time: read from Airflow, Secrets Manager or SSM when it starts."""
