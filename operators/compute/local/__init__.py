"""A Docker engine (the local one, or DOCKER_HOST): its client, images, jobs, transforms and endpoints."""
