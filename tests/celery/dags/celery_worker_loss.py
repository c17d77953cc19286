"""One training task with one retry, for the test that kills the Celery worker running it.

The job waits for the test's go-ahead (a file named ``release`` in its ``control`` channel, a host folder mounted in
place) before it trains, so it is certainly still running when the retry starts on the other worker.
"""

from __future__ import annotations

import os
from datetime import datetime, timedelta

from airflow.sdk import DAG

from ml_lifecycle import TrainOnEC2Operator

# Set by the test for every Airflow component; the defaults only keep the file parseable elsewhere.
ROOT = os.environ.get("ML_CELERY_E2E_ROOT", "/tmp/ml-celery-e2e")
DATA = os.environ.get("ML_CELERY_E2E_DATA", f"{ROOT}/data")
IMAGE = os.environ.get("ML_CELERY_E2E_IMAGE", "ml-lifecycle-test/linear:test")

# The marker the test looks for in the retry's log; then the real `train` of the example image runs. The trap lets
# a stop (SIGTERM to the shell, PID 1 of the container) end the wait at once instead of after the SIGKILL grace.
WAITING_MARKER = "gated-training: waiting for the go-ahead"
GATED_TRAIN = (
    "trap 'exit 143' TERM; i=0; while [ ! -e /opt/ml/input/data/control/release ]; do "
    f'echo "{WAITING_MARKER} ($i s)"; i=$((i+1)); '
    'if [ "$i" -ge 240 ]; then echo "no go-ahead within 240 s" > /opt/ml/output/failure; exit 3; fi; '
    "sleep 1; done; exec train"
)

with DAG(
    dag_id="celery_worker_loss",
    schedule=None,
    start_date=datetime(2024, 1, 1),
    catchup=False,
    tags=["tests"],
):
    TrainOnEC2Operator(
        task_id="train",
        image_uri=IMAGE,
        channels={"train": f"file://{DATA}/train", "control": f"file://{ROOT}/control"},
        output_path=f"file://{ROOT}/out",
        compute="local",
        entrypoint=["sh", "-c", GATED_TRAIN],
        max_runtime_s=300,
        retries=1,
        retry_delay=timedelta(seconds=2),
    )
