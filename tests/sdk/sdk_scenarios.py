"""SageMaker Python SDK v2 code as a notebook writes it, run in the SDK's own virtualenv against our API (the
environment names it: AWS_ENDPOINT_URL_SAGEMAKER and friends). ``python sdk_scenarios.py <scenario> <args.json>``
prints one JSON object: what the scenario saw."""

from __future__ import annotations

import functools
import json
import sys

import boto3
import sagemaker
from sagemaker.deserializers import CSVDeserializer
from sagemaker.estimator import Estimator
from sagemaker.serializers import CSVSerializer

QUICK_POLL_S = 1  # the SDK's own waits poll every 5 to 30 s; a notebook may pass poll= too
POLLED_WAITS = (
    "wait_for_job",
    "wait_for_transform_job",
    "wait_for_processing_job",
    "wait_for_tuning_job",
    "wait_for_endpoint",
    "logs_for_job",
    "logs_for_transform_job",
    "logs_for_processing_job",
)


def session(**kwargs: object) -> sagemaker.Session:
    """Return a SageMaker session whose clients read their endpoints from the environment, its waits polling every
    second (the SDK's own defaults, 5 to 30 s, would leave most of a test asleep).

    :param kwargs: more Session arguments (default_bucket).
    """
    made = sagemaker.Session(boto_session=boto3.Session(region_name="us-east-1"), **kwargs)
    for name in POLLED_WAITS:
        setattr(made, name, functools.partial(getattr(made, name), poll=QUICK_POLL_S))
    return made


def byo_estimator(args: dict) -> Estimator:
    """Return the bring-your-own-image Estimator both scenarios train with.

    :param args: image, role, output path.
    """
    return Estimator(
        image_uri=args["image"],
        role=args["role"],
        instance_count=1,
        instance_type="ml.m5.large",
        output_path=args["output_path"],
        hyperparameters={"l2": 0.1},
        sagemaker_session=session(),
    )


def bring_your_own(args: dict) -> dict:
    """Estimator.fit with a bring-your-own image, then Transformer.transform, deploy and Predictor.predict.

    :param args: image, role, data URIs, names.
    """
    estimator = byo_estimator(args)
    estimator.fit({"train": args["train_uri"]}, job_name=args["job_name"], logs=True)
    seen: dict = {
        "model_data": estimator.model_data,
        "status": estimator.latest_training_job.describe()["TrainingJobStatus"],
    }
    transformer = estimator.transformer(1, "ml.m5.large", output_path=args["transform_output"], assemble_with="Line")
    transformer.transform(args["score_uri"], content_type="text/csv", split_type="Line", wait=True, logs=False)
    seen["transform_status"] = transformer.sagemaker_session.describe_transform_job(
        transformer.latest_transform_job.name
    )["TransformJobStatus"]
    predictor = estimator.deploy(
        1,
        "ml.m5.large",
        endpoint_name=args["endpoint_name"],
        serializer=CSVSerializer(),
        deserializer=CSVDeserializer(),
    )
    try:
        seen["prediction"] = predictor.predict(args["row"])
    finally:
        predictor.delete_model()  # it reads the endpoint config to find the model, so it goes first
        predictor.delete_endpoint(delete_endpoint_config=True)
    return seen


def script_mode(args: dict) -> dict:
    """A framework estimator in script mode: the SDK packs and uploads the code, the image's toolkit runs it.

    :param args: image, role, source folder, dependency, data URI, names.
    """
    from sagemaker.sklearn import SKLearn

    estimator = SKLearn(
        entry_point="train.py",
        source_dir=args["source_dir"],
        dependencies=[args["dependency"]],
        image_uri=args["image"],
        role=args["role"],
        instance_count=1,
        instance_type="ml.m5.large",
        output_path=args["output_path"],
        code_location=args["code_location"],
        hyperparameters={"epochs": 4, "name": "from the sdk"},
        sagemaker_session=session(),
    )
    estimator.fit({"train": args["train_uri"]}, job_name=args["job_name"], logs=True)
    return {"model_data": estimator.model_data, "status": estimator.latest_training_job.describe()["TrainingJobStatus"]}


def airflow_configs(args: dict) -> dict:
    """The configs the SDK's sagemaker.workflow.airflow functions make for the provider's operators.

    :param args: image, role, data URIs, names.
    """
    from sagemaker.workflow.airflow import (
        deploy_config_from_estimator,
        training_config,
        transform_config_from_estimator,
    )

    estimator = byo_estimator(args)
    training = training_config(estimator, inputs={"train": args["train_uri"]}, job_name=args["job_name"])
    transform = transform_config_from_estimator(
        estimator,
        task_id="train",
        task_type="training",
        instance_count=1,
        instance_type="ml.m5.large",
        data=args["score_uri"],
        content_type="text/csv",
        split_type="Line",
        output_path=args["transform_output"],
        job_name=args["transform_job_name"],
        model_name=args["model_name"],
    )
    deploy = deploy_config_from_estimator(
        estimator,
        task_id="train",
        task_type="training",
        initial_instance_count=1,
        instance_type="ml.m5.large",
        model_name=args["endpoint_model_name"],
        endpoint_name=args["endpoint_name"],
    )
    return {"training": training, "transform": transform, "deploy": deploy}


def curve_tuner(args: dict, strategy: str = "Random"):
    """Return a HyperparameterTuner over the curve image (its loss is a known function of opt and x).

    :param args: image, role, output path.
    :param strategy: the search strategy.
    """
    from sagemaker.tuner import CategoricalParameter, ContinuousParameter, HyperparameterTuner

    estimator = Estimator(
        image_uri=args["image"],
        role=args["role"],
        instance_count=1,
        instance_type="ml.m5.large",
        output_path=args["output_path"],
        hyperparameters={"epochs": 3, "step_s": 0.2},
        sagemaker_session=session(),
    )
    return HyperparameterTuner(
        estimator,
        objective_metric_name="loss",
        objective_type="Minimize",
        metric_definitions=[{"Name": "loss", "Regex": "loss=([0-9.]+)"}],
        hyperparameter_ranges={"opt": CategoricalParameter(["a", "c"]), "x": ContinuousParameter(0.0, 1.0)},
        strategy=strategy,
        max_jobs=3,
        max_parallel_jobs=2,
    )


def tuning_config(args: dict) -> dict:
    """The tuning config the SDK's sagemaker.workflow.airflow.tuning_config makes for SageMakerTuningOperator.

    :param args: image, role, output path, data URI, name.
    """
    from sagemaker.workflow.airflow import tuning_config as make_tuning_config

    return make_tuning_config(curve_tuner(args), inputs={"train": args["train_uri"]}, job_name=args["job_name"])


def tuner(args: dict) -> dict:
    """HyperparameterTuner.fit() over a bring-your-own image whose loss is a known function of its hyperparameters,
    then the best trial attached as an estimator (best_estimator()) and the trials read (analytics()).

    :param args: image, role, output path, data URI, name.
    """
    tuning = curve_tuner(args)
    tuning.fit({"train": args["train_uri"]}, job_name=args["job_name"], wait=True)
    best = tuning.best_estimator()
    trials = tuning.analytics().dataframe()
    return {
        "status": tuning.describe()["HyperParameterTuningJobStatus"],
        "best_training_job": tuning.best_training_job(),
        "best_model_data": best.model_data,
        "best_hyperparameters": best.hyperparameters(),
        "trials": sorted(trials["TrainingJobName"]),
        "objective_values": sorted(float(v) for v in trials["FinalObjectiveValue"]),
    }


def script_processor(args: dict) -> dict:
    """ScriptProcessor.run() with our own image: the SDK uploads the script, stages it as the ``code`` input and runs
    it with the image's python, then the outputs are read back from their destinations.

    :param args: image, role, script path, raw data URI, output prefix, bucket, name.
    """
    from sagemaker.processing import ScriptProcessor

    processor = ScriptProcessor(
        image_uri=args["image"],
        command=["python3"],
        role=args["role"],
        instance_count=1,
        instance_type="ml.m5.large",
        sagemaker_session=_processing_session(args),
    )
    return _split_with(processor, args)


def sklearn_processor(args: dict) -> dict:
    """SKLearnProcessor.run(), unchanged: the SDK names AWS's scikit-learn image in ECR (the test gives the engine an
    image of that name, as no pull reaches ECR here) and runs the script with its python3.

    :param args: role, script path, raw data URI, output prefix, bucket, name.
    """
    from sagemaker.sklearn.processing import SKLearnProcessor

    processor = SKLearnProcessor(
        framework_version="1.2-1",
        role=args["role"],
        instance_count=1,
        instance_type="ml.m5.large",
        sagemaker_session=_processing_session(args),
    )
    return _split_with(processor, args)


def _processing_session(args: dict) -> sagemaker.Session:
    """Return the SDK session of the processing scenarios (its default bucket from args).

    :param args: the scenario's arguments.
    """
    return session(default_bucket=args["bucket"])


def _split_with(processor, args: dict) -> dict:
    """Run the split script with a processor, as a notebook would, and return how the job ended and its outputs.

    :param processor: a ScriptProcessor (or one of its framework subclasses).
    :param args: script path, raw data URI, output prefix, name.
    """
    from sagemaker.processing import ProcessingInput, ProcessingOutput

    processor.run(
        code=args["script"],
        inputs=[ProcessingInput(source=args["raw_uri"], destination="/opt/ml/processing/raw")],
        outputs=[
            ProcessingOutput(
                output_name=part, source=f"/opt/ml/processing/{part}", destination=f"{args['output']}/{part}"
            )
            for part in ("train", "validation")
        ],
        arguments=["--input", "/opt/ml/processing/raw", "--validation-fraction", "0.25"],
        job_name=args["job_name"],
        wait=True,
        logs=True,
    )
    described = processor.latest_job.describe()
    return {
        "status": described["ProcessingJobStatus"],
        "image": described["AppSpecification"]["ImageUri"],
        "outputs": {o["OutputName"]: o["S3Output"]["S3Uri"] for o in described["ProcessingOutputConfig"]["Outputs"]},
    }


if __name__ == "__main__":
    with open(sys.argv[2]) as arguments_file:
        scenario, arguments = sys.argv[1], json.load(arguments_file)
    print(
        "SDK-RESULT "
        + json.dumps(
            {
                "bring_your_own": bring_your_own,
                "script_mode": script_mode,
                "airflow_configs": airflow_configs,
                "tuner": tuner,
                "tuning_config": tuning_config,
                "script_processor": script_processor,
                "sklearn_processor": sklearn_processor,
            }[scenario](arguments),
            default=str,
        )
    )
