"""``python -m ml_lifecycle.agent.instance <job document URI>``: run this instance's part of an EC2 job."""

from __future__ import annotations

import logging
import sys

from ml_lifecycle.agent.instance.cloudwatch import CloudWatchShipper
from ml_lifecycle.agent.instance.host_context import open_host
from ml_lifecycle.agent.instance.kinds import host_runner
from ml_lifecycle.agent.instance.runner import EXIT_FAILED
from ml_lifecycle.aws_clients import client_factory

USAGE = "usage: python -m ml_lifecycle.agent.instance s3://bucket/<output_path>/<job>/staging/job.json"
LOG_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"


class _ShipHandler(logging.Handler):
    """Sends the agent's own log records to CloudWatch Logs beside the container's lines.

    :param ship: receives each formatted record.
    """

    def __init__(self, ship: CloudWatchShipper) -> None:
        super().__init__(logging.INFO)
        self.ship = ship
        self.setFormatter(logging.Formatter(LOG_FORMAT))

    def emit(self, record: logging.LogRecord) -> None:
        """Ship one record.

        :param record: the log record.
        """
        self.ship(self.format(record))


def main(argv: list[str]) -> int:
    """Run the agent and return its exit code (0 completed, 1 failed or stopped, 75 interrupted).

    :param argv: the command-line arguments after the program name.
    """
    if len(argv) != 1:
        print(USAGE, file=sys.stderr)
        return 2
    logging.basicConfig(level=logging.INFO, stream=sys.stdout, format=LOG_FORMAT)
    # The SDKs' INFO lines (where credentials and endpoints were found) are noise in the job's log.
    for noisy in ("botocore", "boto3", "s3transfer", "urllib3", "docker"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
    host = open_host(argv[0])
    identity, document = host.identity, host.document
    stream = f"{document.job_name}/{identity.host}"
    ship = CloudWatchShipper(client_factory("logs", None, identity.region), document.log_group, stream)
    logging.getLogger().addHandler(_ShipHandler(ship))

    def sink(line: str) -> None:
        print(line, flush=True)
        ship(line)

    try:
        return host_runner(document.kind)(argv[0], sink, host.imds)
    except Exception:
        logging.getLogger("ml_lifecycle.agent.instance").exception("The agent failed")
        return EXIT_FAILED
    finally:
        ship.close()


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
