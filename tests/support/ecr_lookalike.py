"""The accounts of the registry that answers as Amazon ECR in the registry tests (tests/registries/conftest.py)."""

# AWS's framework-image account, and another account whose token the lookalike refuses.
ECR_ACCOUNT, OTHER_ACCOUNT = "763104351884", "111122223333"
ECR_LOOKALIKE_IP = "127.0.1.44"  # in 127.0.0.0/8, which Docker engines treat as an insecure registry by default
