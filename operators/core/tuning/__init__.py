"""Hyperparameter tuning with SageMaker's semantics, pure: ranges, settings, trial names, state, learning curves."""
