"""Hyperparameter tuning on our backends: the Optuna search, the tuning state in the artifact store, the trial loop."""
