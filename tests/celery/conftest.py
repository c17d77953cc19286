"""tests/celery reuses tests/web's Airflow stack helpers (airflow_stack) by module name."""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "web"))
