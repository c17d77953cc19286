"""The ml-lifecycle command: invoke endpoints, list endpoints and model versions, delete an endpoint."""

from __future__ import annotations

import argparse
import sys
import urllib.error
import urllib.request

from ml_lifecycle import settings
from ml_lifecycle.compute import DEFAULT_BACKEND, backend_names
from ml_lifecycle.errors import MlLifecycleError


def _endpoint_url(target: str) -> str:
    """Turn an endpoint name or URL into the endpoint's base URL.

    :param target: ``http(s)://...`` or a local endpoint's name.
    """
    if target.startswith(("http://", "https://")):
        return target.rstrip("/").removesuffix("/invocations")
    from ml_lifecycle.compute.local.endpoints.record import read_endpoint

    record = read_endpoint(settings.home_dir(), target)
    if record is None:
        raise SystemExit(
            f"ml-lifecycle: no endpoint named {target!r} under {settings.home_dir()}; see 'ml-lifecycle endpoints'"
        )
    if not record.url:
        reason = f": {record.failure_reason}" if record.failure_reason else ""
        raise SystemExit(f"ml-lifecycle: endpoint {target!r} is {record.status} and has no URL yet{reason}")
    return record.url


def _invocation_target(args: argparse.Namespace) -> tuple[str, str | None]:
    """Return the endpoint's base URL and the region its requests are signed for (None: sent unsigned).

    An endpoint that requires IAM (auth="iam", found by name with --compute) or an API Gateway address is signed.

    :param args: target, compute, aws_conn_id, sign_region.
    """
    from ml_lifecycle.core.ec2.endpoint_access import execute_api_region, signing_region

    if args.target.startswith(("http://", "https://")) or args.compute == DEFAULT_BACKEND:
        base = _endpoint_url(args.target)
        return base, args.sign_region or execute_api_region(base)
    from ml_lifecycle.compute import backend_for

    view = backend_for(args.compute, args.aws_conn_id).endpoints().describe(args.target)
    if view is None or not view.url:
        raise SystemExit(f"ml-lifecycle: no endpoint named {args.target!r} with a URL on {args.compute}")
    return view.url, args.sign_region or signing_region(view.details) or execute_api_region(view.url)


def invoke(args: argparse.Namespace) -> int:
    """POST standard input to an endpoint's /invocations (SigV4-signed when it requires IAM) and print the answer.

    :param args: target, content_type, accept, timeout_s, compute, aws_conn_id, sign_region.
    """
    base, sign_region = _invocation_target(args)
    body = sys.stdin.buffer.read()
    headers = {"Content-Type": args.content_type}
    if args.accept:
        headers["Accept"] = args.accept
    url = f"{base}/invocations"
    if sign_region:
        from ml_lifecycle.compute.ec2.request_signing import caller_credentials, signed_headers

        headers = signed_headers("POST", url, body, headers, sign_region, caller_credentials(args.aws_conn_id))
    request = urllib.request.Request(url, data=body, headers=headers, method="POST")
    try:
        with urllib.request.urlopen(request, timeout=args.timeout_s) as response:
            sys.stdout.buffer.write(response.read())
    except urllib.error.HTTPError as err:
        sys.stderr.write(f"ml-lifecycle: the endpoint answered {err.code}: {err.read().decode(errors='replace')}\n")
        return 1
    except urllib.error.URLError as err:
        sys.stderr.write(f"ml-lifecycle: cannot reach the endpoint: {err.reason}\n")
        return 1
    return 0


def endpoints(args: argparse.Namespace) -> int:
    """List local endpoints with their status as it is (the engine asked), URL and model.

    :param args: unused.
    """
    from ml_lifecycle.compute import DEFAULT_BACKEND, backend_for
    from ml_lifecycle.compute.local.endpoints.record import list_endpoints

    names = list_endpoints(settings.home_dir())
    if not names:
        print("no endpoints")
    backend = backend_for(DEFAULT_BACKEND, None).endpoints()
    for name in names:
        view = backend.describe(name)
        if view is None:
            continue
        line = f"{view.endpoint_name} {view.status} {view.url or '-'} revision={view.revision or '-'}"
        line += f" model={view.model_uri or '-'}"
        if view.serving_problem:
            line += f" problem={view.serving_problem!r}"
        if "capture_records" in view.details:
            line += f" capture={view.details['capture_records']} capture_lost={view.details['capture_lost']}"
        if view.failure_reason:
            line += f" failure={view.failure_reason!r}"
        print(line)
    return 0


def url(args: argparse.Namespace) -> int:
    """Print an endpoint's base URL.

    :param args: target.
    """
    print(_endpoint_url(args.target))
    return 0


def models(args: argparse.Namespace) -> int:
    """List a model's published versions with their metrics.

    :param args: registry_uri, model_name.
    """
    from ml_lifecycle.core.uris import parse_uri
    from ml_lifecycle.stores import store_for
    from ml_lifecycle.stores.model_registry import read_manifest, versions

    root = parse_uri(args.registry_uri, "registry_uri").join(args.model_name)
    store = store_for(root)
    found = versions(store, root)
    if not found:
        sys.stderr.write(
            f"ml-lifecycle: no published version of {args.model_name!r} under {args.registry_uri}; check the model "
            "name and the registry URI (ExportArtifactsOperator's model_name and registry_uri)\n"
        )
        return 1
    for version in found:
        manifest = read_manifest(store, root, version)
        metrics = manifest["lineage"].get("metrics", {})
        print(f"{args.model_name} v{version} {manifest['uri']} metrics={metrics}")
    return 0


def delete_endpoint(args: argparse.Namespace) -> int:
    """Stop and remove a local endpoint.

    :param args: name.
    """
    from ml_lifecycle.compute import backend_for

    endpoints = backend_for(args.compute, args.aws_conn_id).endpoints()
    known = endpoints.describe(args.name)
    removed = endpoints.delete(args.name, {}, lambda line: None)
    if known is None and not any(removed.values()):
        where = f"under {settings.home_dir()}" if args.compute == DEFAULT_BACKEND else f"on {args.compute}"
        sys.stderr.write(f"ml-lifecycle: no endpoint named {args.name!r} {where}; see 'ml-lifecycle endpoints'\n")
        return 1
    what = ", ".join(f"{count} {kind.removesuffix('_removed').replace('_', ' ')}" for kind, count in removed.items())
    print(f"endpoint {args.name} deleted: {what}")
    return 0


def serve_api(args: argparse.Namespace) -> int:
    """Serve the SageMaker-compatible API (the plugin mounts the same app on Airflow's API server).

    :param args: host, port.
    """
    import os

    import uvicorn

    from ml_lifecycle.api_server.app import create_app

    # A server process of Airflow's: connections are read from the metastore (and secrets backends) too.
    os.environ.setdefault("_AIRFLOW_PROCESS_CONTEXT", "server")

    uvicorn.run(create_app(), host=args.host, port=args.port, log_level="info")
    return 0


def main(argv: list[str] | None = None) -> int:
    """Run the command line.

    :param argv: the arguments; None reads sys.argv.
    """
    parser = argparse.ArgumentParser(prog="ml-lifecycle", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("invoke", help="POST standard input to an endpoint")
    p.add_argument("target", help="an endpoint name or URL")
    p.add_argument("--content-type", default="text/csv")
    p.add_argument("--accept", default=None)
    p.add_argument("--timeout-s", type=float, default=60.0)
    p.add_argument("--compute", default=DEFAULT_BACKEND, choices=backend_names(), help="where a named endpoint runs")
    p.add_argument("--aws-conn-id", default=None, help="the Airflow AWS connection (default: boto3's chain)")
    p.add_argument(
        "--sign-region", default=None, help="sign with SigV4 for execute-api in this region (automatic when required)"
    )
    p.set_defaults(func=invoke)
    sub.add_parser("endpoints", help="list local endpoints").set_defaults(func=endpoints)
    p = sub.add_parser("url", help="print an endpoint's URL")
    p.add_argument("target")
    p.set_defaults(func=url)
    p = sub.add_parser("models", help="list a model's versions")
    p.add_argument("registry_uri")
    p.add_argument("model_name")
    p.set_defaults(func=models)
    p = sub.add_parser("delete-endpoint", help="stop and remove an endpoint")
    p.add_argument("name")
    p.add_argument("--compute", default=DEFAULT_BACKEND, choices=backend_names(), help="where it runs")
    p.add_argument("--aws-conn-id", default=None, help="the Airflow AWS connection (default: boto3's chain)")
    p.set_defaults(func=delete_endpoint)
    p = sub.add_parser("serve-api", help="serve the SageMaker-compatible API (see the README)")
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, default=8090)
    p.set_defaults(func=serve_api)
    args = parser.parse_args(argv)
    try:
        return int(args.func(args))
    except MlLifecycleError as err:  # what went wrong and how to fix it, without a traceback
        sys.stderr.write(f"ml-lifecycle: {err}\n")
        return 1


if __name__ == "__main__":
    sys.exit(main())
