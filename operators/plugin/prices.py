"""Rough hourly prices of instance types, for the running-job cost estimate on the page (not a bill)."""

from __future__ import annotations

# EC2 on-demand Linux prices in us-east-1, USD per hour, as AWS published them; SageMaker's ml.* types cost more.
HOURLY_USD = {
    "t3.medium": 0.0416,
    "t3.large": 0.0832,
    "t3.xlarge": 0.1664,
    "m5.large": 0.096,
    "m5.xlarge": 0.192,
    "m5.2xlarge": 0.384,
    "m5.4xlarge": 0.768,
    "c5.large": 0.085,
    "c5.xlarge": 0.17,
    "c5.2xlarge": 0.34,
    "c5.4xlarge": 0.68,
    "r5.large": 0.126,
    "r5.xlarge": 0.252,
    "g4dn.xlarge": 0.526,
    "g5.xlarge": 1.006,
    "g5.2xlarge": 1.212,
    "p3.2xlarge": 3.06,
}


def hourly_usd(instance_type: str) -> float | None:
    """Return the hourly price of one instance, or None when the type is not in the table.

    :param instance_type: e.g. ``ml.m5.large`` or ``m5.large``.
    """
    return HOURLY_USD.get(instance_type.removeprefix("ml."))


def estimate_usd(instance_type: str, instance_count: int, age_s: float) -> float | None:
    """Estimate what a job has cost so far on EC2: hosts times hours times the hourly price.

    :param instance_type: the job's instance type.
    :param instance_count: its number of hosts.
    :param age_s: seconds since it started.
    """
    price = hourly_usd(instance_type)
    if price is None:
        return None
    return round(price * max(instance_count, 1) * max(age_s, 0.0) / 3600.0, 4)
