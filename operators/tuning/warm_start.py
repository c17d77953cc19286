"""A warm start's parents: the completed trials of earlier tuning jobs that seed the search, each parent checked."""

from __future__ import annotations

from ml_lifecycle.core.tuning.config import TuningConfig
from ml_lifecycle.core.tuning.state import Trial, TrialStatus
from ml_lifecycle.errors import SpecError
from ml_lifecycle.stores import StoreFor
from ml_lifecycle.tuning.state_store import read_state, state_uri

WHERE = "warm_start_config.ParentHyperParameterTuningJobs"


def parent_trials(store_for: StoreFor, output_path: str, config: TuningConfig) -> list[Trial]:
    """Return the completed trials of the warm start's parents; raise SpecError naming a parent that is not under
    output_path or optimized another metric. No warm start: [].

    :param store_for: returns the store for a URI.
    :param output_path: the training definition's output_path (where the parents' states are).
    :param config: the tuning settings.
    """
    warm = config.warm_start
    if warm is None:
        return []
    seeded: list[Trial] = []
    for parent in warm.parents:
        state = read_state(store_for, state_uri(output_path, parent))
        if state is None:
            raise SpecError(
                WHERE,
                f"no tuning job {parent!r} is under {output_path}",
                "Name a tuning job of the same output_path (a tuning task's tuning_job_name)",
            )
        if state.objective_metric != config.objective.metric_name:
            raise SpecError(
                WHERE,
                f"{parent!r} optimized {state.objective_metric!r}, not {config.objective.metric_name!r}",
                "Warm start from tuning jobs with the same objective metric",
            )
        seeded += [t for t in state.trials if t.status == TrialStatus.COMPLETED]
    return seeded
