"""What the TuneOnEC2Operator tests share: the curve image's training definition, the tuning state on disk, and a
tuning task of long trials run in a thread."""

from __future__ import annotations

import json
import threading
from pathlib import Path
from typing import Any

from ml_lifecycle import TuneOnEC2Operator

LOSS = [{"Name": "loss", "Regex": r"loss=([0-9.]+)"}]
OPTIONS = {"Name": "opt", "Values": ["a", "b", "c"]}


def tuning_args(image: str, data: Path, out: Path, **tuning: Any) -> dict[str, Any]:
    """The training definition these tests share, with tuning settings.

    :param image: the curve image.
    :param data: the sample data (the image reads none; a channel is required).
    :param out: the output folder.
    :param tuning: the tuning settings.
    """
    return {
        "image_uri": image,
        "channels": {"train": f"file://{data}/train"},
        "output_path": f"file://{out}",
        "metric_definitions": LOSS,
        "objective_metric_name": "loss",
        "objective_type": "Minimize",
        "max_runtime_s": 120,
        "poll_interval_s": 0.3,
        **tuning,
    }


def tuning_state(out: Path) -> dict[str, Any] | None:
    """Read the tuning state under out, when there is one.

    :param out: the output folder.
    """
    found = list(out.glob("*/tuning-state.json"))
    return json.loads(found[0].read_text()) if found else None


def running_state(out: Path, running: int) -> dict[str, Any] | None:
    """Return the tuning state under out once this many of its trials run, else None.

    :param out: the output folder.
    :param running: how many trials.
    """
    state = tuning_state(out)
    if state is None or sum(t["status"] == "InProgress" for t in state["trials"]) < running:
        return None
    return state


def keep_error(raised: list[BaseException], call: Any) -> None:
    """Run call, keeping what it raises.

    :param raised: where the error goes.
    :param call: what to run.
    """
    try:
        call()
    except BaseException as err:
        raised.append(err)


def long_trials_in_a_thread(
    image: str, data: Path, out: Path, context: dict[str, Any]
) -> tuple[TuneOnEC2Operator, threading.Thread, list[BaseException]]:
    """Start a tuning task of two long trials at once in a thread; return it, its thread and where its error goes.

    :param image: the curve image.
    :param data: the sample data.
    :param out: the output folder.
    :param context: the task's context.
    """
    op = TuneOnEC2Operator(
        task_id="tune",
        strategy="Grid",
        parameter_ranges={"CategoricalParameterRanges": [OPTIONS]},
        max_parallel_training_jobs=2,
        hyperparameters={"epochs": 600, "step_s": 0.5},
        **tuning_args(image, data, out),
    )
    raised: list[BaseException] = []
    thread = threading.Thread(target=lambda: keep_error(raised, lambda: op.execute(context)))
    thread.start()
    return op, thread, raised
