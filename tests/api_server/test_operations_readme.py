"""The README's list of served operations is the API's own table: an operation added or removed fails here until
the README says so."""

from __future__ import annotations

import re
from pathlib import Path

from ml_lifecycle.api_server.config import ApiConfig
from ml_lifecycle.api_server.operations import Operations

README = Path(__file__).resolve().parents[2] / "README.md"
SERVICES = {"SageMaker": "SageMaker", "CloudWatch Logs": "Logs_20140328"}


def test_the_readme_lists_exactly_the_operations_served(tmp_path):
    text = README.read_text()
    block = text[text.index("<!-- sagemaker-operations") : text.index("<!-- /sagemaker-operations -->")]
    listed = set()
    for service, prefix in SERVICES.items():
        item = re.search(rf"^- {service}: (.*?)(?=^- |\Z)", block, re.S | re.M)
        assert item, f"the README lists no {service} operations"
        names = re.findall(r"\b([A-Z][a-zA-Z]+)\b", item.group(1).split(" on `")[0].split(" (")[0])
        listed |= {f"{prefix}.{name}" for name in names}
    config = ApiConfig("local", None, "sagemaker_api", f"file://{tmp_path}", "us-east-1", "000000000000")
    assert listed == set(Operations(config).names())
