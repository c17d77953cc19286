"""The Docker engine client: containers, images and networks, with the SDK's errors translated."""
