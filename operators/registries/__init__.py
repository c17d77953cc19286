"""Image registries: Amazon ECR and any OCI registry (registry:2, Harbor, ...)."""
