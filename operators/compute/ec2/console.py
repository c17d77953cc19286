"""Where a person looks at an EC2 job: the EC2 console on its instances, CloudWatch on its log streams."""

from __future__ import annotations


def instances_url(job_name: str, region: str) -> str:
    """Return the EC2 console filtered to a job's instances (they carry the tag ``ml-lifecycle.job``).

    :param job_name: the job name.
    :param region: the AWS region.
    """
    return f"https://{region}.console.aws.amazon.com/ec2/home?region={region}#Instances:tag:ml-lifecycle.job={job_name}"


def job_logs_url(job_name: str, region: str, log_group: str) -> str:
    """Return the CloudWatch console on a job's log streams (one per host, named ``<job>/<host>``).

    :param job_name: the job name.
    :param region: the AWS region.
    :param log_group: the group the agents of the job's kind write to, e.g. ``/aws/ml-lifecycle/TrainingJobs``.
    """
    group = log_group.replace("/", "$252F")
    return (
        f"https://{region}.console.aws.amazon.com/cloudwatch/home?region={region}"
        f"#logsV2:log-groups/log-group/{group}$3FlogStreamNameFilter$3D{job_name}"
    )
