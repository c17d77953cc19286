"""What runs on the host that runs the containers, outside Airflow: the agent shipped to EC2 instances (instance/)."""
