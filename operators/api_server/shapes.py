"""What botocore's service model declares, read where an answer is built from parts (List summaries)."""

from __future__ import annotations

from functools import cache


@cache
def summary_fields(shape_name: str) -> tuple[str, ...]:
    """Return the members of one of SageMaker's output shapes (``TrainingJobSummary``), as botocore declares them.

    :param shape_name: the shape's name.
    """
    import botocore.session

    model = botocore.session.get_session().get_service_model("sagemaker")
    return tuple(model.shape_for(shape_name).members)
