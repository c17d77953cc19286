"""The agent that runs one host of an EC2 training job on its instance: ``python -m ml_lifecycle.agent.instance``."""
