"""Prepare the compose stack once: create the artifact bucket in MinIO and upload the sample data the DAGs train on.

Runs in the airflow-init service after ``airflow db migrate``; safe to run again (it skips what exists).
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
from pathlib import Path

from ml_lifecycle.aws_clients import client_factory
from ml_lifecycle.core.uris import parse_uri
from ml_lifecycle.settings import default_artifact_root
from ml_lifecycle.stores import store_factory

GENERATOR = Path("/opt/ml-lifecycle/examples/data/generate.py")


def main() -> int:
    """Create the bucket and upload the sample data; return the exit code."""
    root = parse_uri(default_artifact_root(), "ML_LIFECYCLE_ARTIFACT_ROOT")
    if root.scheme != "s3":
        print(f"compose-init: artifacts are under {root}; no bucket to create")
        return 0
    s3 = client_factory("s3", "aws_default")()
    existing = {b["Name"] for b in s3.list_buckets().get("Buckets", [])}
    if root.bucket not in existing:
        s3.create_bucket(Bucket=root.bucket)
        print(f"compose-init: created bucket {root.bucket}")
    data = root.join("data")
    store = store_factory("aws_default")(data)
    if store.list_objects(data.join("raw")):  # raw/ came last: older sample data gets it (the rest is the same)
        print(f"compose-init: sample data already in {data}")
        return 0
    with tempfile.TemporaryDirectory() as folder:
        subprocess.run([sys.executable, str(GENERATOR), "--out", folder], check=True)
        for path in sorted(Path(folder).rglob("*")):
            if path.is_file():
                store.upload_file(str(path), data.join(path.relative_to(folder).as_posix()))
    print(f"compose-init: uploaded the sample data to {data}")
    return 0


if __name__ == "__main__":
    os.environ.setdefault("AWS_REQUEST_CHECKSUM_CALCULATION", "when_required")
    sys.exit(main())
