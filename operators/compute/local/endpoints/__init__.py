"""Local endpoints: an nginx proxy at a fixed URL in front of serving containers."""
