"""The operations the API serves, by X-Amz-Target: each one a handler ``(request, caller) -> response``."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from ml_lifecycle.api_server.config import ApiConfig
from ml_lifecycle.api_server.endpoints import EndpointApi
from ml_lifecycle.api_server.errors import ApiError
from ml_lifecycle.api_server.job_kinds import PROCESSING, TRAINING, TRANSFORM
from ml_lifecycle.api_server.jobs import JobApi
from ml_lifecycle.api_server.logs_api import LogsApi
from ml_lifecycle.api_server.state import ApiState
from ml_lifecycle.api_server.tags import TagsApi
from ml_lifecycle.api_server.tuning_jobs import TuningJobApi

Handler = Callable[[dict[str, Any], str], dict[str, Any]]


class Operations:
    """Every operation of the API, over one state.

    :param config: the API's settings.
    """

    def __init__(self, config: ApiConfig) -> None:
        from ml_lifecycle.stores import store_factory

        self.config = config
        self.state = ApiState(config.state_root, store_factory(config.aws_conn_id))
        self.jobs = {
            "training": JobApi(TRAINING, config, self.state),
            "transform": JobApi(TRANSFORM, config, self.state),
            "processing": JobApi(PROCESSING, config, self.state),
        }
        self.endpoints = EndpointApi(config, self.state)
        training = self.jobs["training"]
        self.tuning = TuningJobApi(config, self.state, lambda name: training.describe({"TrainingJobName": name}))
        self.tags = TagsApi(self.state)
        self.logs = LogsApi(self.jobs, self.endpoints)
        self.table = self._table()

    def _tagged(self, create: Handler, arn_field: str) -> Handler:
        """Return a Create handler that also keeps the request's Tags for ListTags.

        :param create: the Create handler.
        :param arn_field: the response's ARN field.
        """

        def handler(request: dict[str, Any], caller: str) -> dict[str, Any]:
            self.tags.check(request.get("Tags"))
            response = create(request, caller)
            if request.get("Tags"):
                self.tags.add({"ResourceArn": response[arn_field], "Tags": request["Tags"]})
            return response

        return handler

    def _untagging(self, delete: Handler, arn_of: Callable[[str], str], name_field: str) -> Handler:
        """Return a Delete handler that also forgets the resource's tags.

        :param delete: the Delete handler.
        :param arn_of: name -> the resource's ARN.
        :param name_field: the request field naming it.
        """

        def handler(request: dict[str, Any], caller: str) -> dict[str, Any]:
            response = delete(request, caller)
            self.tags.forget(arn_of(str(request[name_field])))
            return response

        return handler

    def _table(self) -> dict[str, dict[str, Handler]]:
        """Return target prefix -> operation -> handler."""
        sagemaker: dict[str, Handler] = {}
        for api in self.jobs.values():
            noun = api.kind.noun
            sagemaker[f"Create{noun}"] = self._tagged(api.create, f"{noun}Arn")
            sagemaker[f"Describe{noun}"] = _ignoring_caller(api.describe)
            sagemaker[f"Stop{noun}"] = _ignoring_caller(api.stop)
            sagemaker[f"List{noun}s"] = _ignoring_caller(api.list)
        for stored in (self.endpoints.models, self.endpoints.configs):
            noun = stored.kind.noun
            sagemaker[f"Create{noun}"] = self._tagged(_ignoring_caller(stored.create), f"{noun}Arn")
            sagemaker[f"Describe{noun}"] = _ignoring_caller(stored.describe)
            sagemaker[f"Delete{noun}"] = self._untagging(_ignoring_caller(stored.delete), stored.arn_of, f"{noun}Name")
            sagemaker[f"List{noun}s"] = _ignoring_caller(stored.list)
        sagemaker.update(
            CreateHyperParameterTuningJob=self._tagged(self.tuning.create, "HyperParameterTuningJobArn"),
            DescribeHyperParameterTuningJob=_ignoring_caller(self.tuning.describe),
            StopHyperParameterTuningJob=_ignoring_caller(self.tuning.stop),
            ListHyperParameterTuningJobs=_ignoring_caller(self.tuning.list),
            ListTrainingJobsForHyperParameterTuningJob=_ignoring_caller(self.tuning.list_training_jobs),
            CreateEndpoint=self._tagged(self.endpoints.create, "EndpointArn"),
            UpdateEndpoint=self.endpoints.update,
            DescribeEndpoint=_ignoring_caller(self.endpoints.describe),
            DeleteEndpoint=self._untagging(self.endpoints.delete, self.endpoints.arn_of, "EndpointName"),
            ListEndpoints=_ignoring_caller(self.endpoints.list),
            AddTags=_ignoring_caller(self.tags.add),
            ListTags=_ignoring_caller(self.tags.list),
            DeleteTags=_ignoring_caller(self.tags.delete),
        )
        logs: dict[str, Handler] = {
            "DescribeLogStreams": _ignoring_caller(self.logs.describe_log_streams),
            "GetLogEvents": _ignoring_caller(self.logs.get_log_events),
            "PutRetentionPolicy": _ignoring_caller(self.logs.put_retention_policy),
        }
        return {"SageMaker": sagemaker, "Logs_20140328": logs}

    def handler(self, prefix: str, operation: str) -> Handler:
        """Return the handler of an operation, or raise for one not served here.

        :param prefix: the target's service prefix (``SageMaker``).
        :param operation: the operation (``CreateTrainingJob``).
        """
        handler = self.table.get(prefix, {}).get(operation)
        if handler is None:
            raise ApiError(
                "UnknownOperationException",
                f"{prefix}.{operation} is not served here; the README lists the operations that are",
            )
        return handler

    def close(self) -> None:
        """Stop the background work that would outlive the server (the stepping of tuning jobs)."""
        self.tuning.close()

    def names(self) -> list[str]:
        """Return every operation served, as ``Prefix.Operation``."""
        return sorted(f"{prefix}.{op}" for prefix, ops in self.table.items() for op in ops)


def _ignoring_caller(call: Callable[[dict[str, Any]], dict[str, Any]]) -> Handler:
    """Return a handler for an operation that does not depend on who calls.

    :param call: the operation.
    """
    return lambda request, _caller: call(request)
