"""Importing dags/retrain_and_deploy.py in a fresh python against a DAG file of the same shape made of EmptyOperators.

The baseline file is generated from the real DAG: same dag_id and DAG arguments (schedule, start_date, catchup,
max_active_runs, render_template_as_native_obj, tags, description), the same default_args and params (Param
objects with the same defaults, schemas and descriptions), the same task ids, dependencies, setup/teardown pair,
trigger rules and outlets, but every task an ``airflow.providers.standard.operators.empty.EmptyOperator``.

Each timing is a whole fresh process, ``python -c "import runpy; runpy.run_path(FILE)"`` with the project's
environment (scripts/env.sh) from the repository root; the two files alternate after one warm-up each.
"""

from __future__ import annotations

import json
import resource
import subprocess
import tempfile
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

from bench.common import REPO, RESULTS, BenchError, project_env, ratio_of, summary, venv_python

NAME = "dag_import"
TITLE = "DAG import: dags/retrain_and_deploy.py vs the same shape of EmptyOperators"
DEFAULT_RUNS = 10
GOAL = 1.05
DAG_FILE = "dags/retrain_and_deploy.py"
MUST_NOT_LOAD = ("boto3", "botocore", "docker")
TOP_MODULES = 10

# Run in a fresh process: import a DAG file, note what it loaded, then describe its shape as JSON.
SHAPE_SCRIPT = r"""
import runpy, sys
namespace = runpy.run_path(sys.argv[1])
loaded = sorted(sys.modules)
import json
from datetime import timedelta
import attrs
import airflow.sdk as sdk
from airflow.sdk import DAG

class Unsupported(Exception):
    pass

def enc(value):
    # JSON for plain values, timedeltas and the airflow.sdk objects a DAG's arguments use (Asset, timetables).
    if value is None or isinstance(value, (str, int, float, bool)):
        return value
    if isinstance(value, timedelta):
        return {"__timedelta__": value.total_seconds()}
    if isinstance(value, dict):
        return {k: enc(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [enc(v) for v in value]
    name = type(value).__name__
    if getattr(sdk, name, None) is type(value):
        if attrs.has(type(value)):
            kwargs = {}
            for field in attrs.fields(type(value)):
                if not field.init:
                    continue
                current, default = getattr(value, field.name), field.default
                if isinstance(default, attrs.Factory):
                    default = default.factory(value) if default.takes_self else default.factory()
                if default is not attrs.NOTHING and current == default:
                    continue
                kwargs[field.alias or field.name] = enc(current)
            return {"__type__": name, "args": [], "kwargs": kwargs}
        if isinstance(getattr(value, "objects", None), (list, tuple)):
            return {"__type__": name, "args": [enc(o) for o in value.objects], "kwargs": {}}
    raise Unsupported(f"{value!r}")

dags = [v for v in namespace.values() if isinstance(v, DAG)]
if len(dags) != 1:
    raise SystemExit(f"expected one DAG in {sys.argv[1]}, found {len(dags)}")
dag = dags[0]
try:
    schedule = enc(dag.schedule)
except Unsupported:
    schedule = {"__unsupported__": repr(dag.schedule)}
tasks = []
for task in dag.tasks:
    tasks.append({
        "task_id": task.task_id,
        "operator": type(task).__name__,
        "upstream": sorted(task.upstream_task_ids),
        "is_setup": bool(task.is_setup),
        "is_teardown": bool(task.is_teardown),
        "trigger_rule": str(getattr(task.trigger_rule, "value", task.trigger_rule)),
        "outlets": [{"name": o.name, "uri": o.uri} for o in task.outlets if hasattr(o, "uri")],
    })
params = {}
for key, param in dag.params.items():
    params[key] = {"value": enc(param.value), "schema": enc(dict(param.schema)), "description": param.description}
print(json.dumps({
    "dag_id": dag.dag_id,
    "description": dag.description,
    "schedule": schedule,
    "schedule_repr": repr(dag.schedule),
    "start_date": dag.start_date.isoformat() if dag.start_date else None,
    "catchup": dag.catchup,
    "max_active_runs": dag.max_active_runs,
    "render_template_as_native_obj": dag.render_template_as_native_obj,
    "tags": sorted(dag.tags),
    "default_args": enc(dict(dag.default_args)),
    "params": params,
    "tasks": sorted(tasks, key=lambda t: t["task_id"]),
    "modules": loaded,
}))
"""


def _literal(value: Any, names: set[str]) -> str:
    """Python source for a value encoded by SHAPE_SCRIPT; airflow.sdk names it needs are added to ``names``."""
    if isinstance(value, dict):
        if set(value) == {"__timedelta__"}:
            names.add("timedelta")
            return f"timedelta(seconds={value['__timedelta__']!r})"
        if "__type__" in value:
            names.add(value["__type__"])
            args = [_literal(v, names) for v in value["args"]]
            args += [f"{k}={_literal(v, names)}" for k, v in value["kwargs"].items()]
            return f"{value['__type__']}({', '.join(args)})"
        return "{" + ", ".join(f"{k!r}: {_literal(v, names)}" for k, v in value.items()) + "}"
    if isinstance(value, list):
        return "[" + ", ".join(_literal(v, names) for v in value) + "]"
    return repr(value)


def empty_dag_source(shape: dict[str, Any], *, with_schedule: bool = True) -> str:
    """A DAG file of the same shape as ``shape`` (from SHAPE_SCRIPT), every task an EmptyOperator.

    :param shape: the real DAG's shape.
    :param with_schedule: reproduce the schedule (else None: for schedules SHAPE_SCRIPT cannot rebuild).
    """
    tasks = shape["tasks"]
    names: set[str] = {"DAG", "Param"}
    var = {t["task_id"]: f"t{i}" for i, t in enumerate(tasks)}
    schedule = shape["schedule"]
    if not with_schedule or (isinstance(schedule, dict) and "__unsupported__" in schedule):
        schedule = None
    start_date = f"pendulum.parse({shape['start_date']!r})" if shape["start_date"] else "None"
    body = [
        "with DAG(",
        f"    dag_id={shape['dag_id']!r},",
        f"    description={shape['description']!r},",
        f"    schedule={_literal(schedule, names)},",
        f"    start_date={start_date},",
        f"    catchup={shape['catchup']!r},",
        f"    max_active_runs={shape['max_active_runs']!r},",
        f"    render_template_as_native_obj={shape['render_template_as_native_obj']!r},",
        f"    default_args={_literal(shape['default_args'], names)},",
        "    params={",
    ]
    for key, param in shape["params"].items():
        body.append(
            f"        {key!r}: Param({_literal(param['value'], names)}, description={param['description']!r}, "
            f"**{_literal(param['schema'], names)}),"
        )
    body += ["    },", f"    tags={shape['tags']!r},", ") as dag:"]
    teardown_edges: set[tuple[str, str]] = set()
    setups_of: dict[str, list[str]] = {}
    by_id = {t["task_id"]: t for t in tasks}
    for task in tasks:
        if task["is_teardown"]:
            setups = [u for u in task["upstream"] if by_id[u]["is_setup"]]
            setups_of[task["task_id"]] = setups
            teardown_edges |= {(u, task["task_id"]) for u in setups}
    for task in tasks:
        extra = ""
        if task["trigger_rule"] != "all_success" and not task["is_teardown"]:
            extra += f", trigger_rule={task['trigger_rule']!r}"
        if task["outlets"]:
            names.add("Asset")
            assets = ", ".join(f"Asset(name={o['name']!r}, uri={o['uri']!r})" for o in task["outlets"])
            extra += f", outlets=[{assets}]"
        body.append(f"    {var[task['task_id']]} = EmptyOperator(task_id={task['task_id']!r}{extra})")
    for task in tasks:
        for up in task["upstream"]:
            if (up, task["task_id"]) not in teardown_edges:
                body.append(f"    {var[up]} >> {var[task['task_id']]}")
    for teardown, setups in setups_of.items():
        body.append(f"    {var[teardown]}.as_teardown(setups=[{', '.join(var[s] for s in setups)}])")
    header = [
        '"""Generated by bench/dag_import.py: the shape of dags/retrain_and_deploy.py, every task an EmptyOperator."""',
        "",
        *(["from datetime import timedelta", ""] if "timedelta" in names else []),
        "import pendulum",
        "from airflow.providers.standard.operators.empty import EmptyOperator",
        f"from airflow.sdk import {', '.join(sorted(names - {'timedelta'}))}",
        "",
    ]
    return "\n".join(header + body) + "\n"


def _shape(python: str, env: dict[str, str], path: str) -> dict[str, Any]:
    done = subprocess.run(
        [python, "-c", SHAPE_SCRIPT, path], cwd=REPO, env=env, capture_output=True, text=True, check=False
    )
    if done.returncode != 0:
        raise BenchError(f"Importing {path} failed:\n{done.stderr.strip()[-2000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def _comparable(shape: dict[str, Any], with_schedule: bool = True) -> dict[str, Any]:
    """The parts of a shape that must match between the real DAG and the generated one."""
    skip = {"modules"} | (set() if with_schedule else {"schedule", "schedule_repr"})
    out = {k: v for k, v in shape.items() if k not in skip}
    out["tasks"] = [{k: v for k, v in t.items() if k != "operator"} for t in shape["tasks"]]
    return out


def _children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def _time_import(python: str, env: dict[str, str], path: str) -> tuple[float, float]:
    """Import a DAG file in a fresh python; return (wall seconds, CPU seconds of that process)."""
    command = [python, "-c", f"import runpy; runpy.run_path({path!r})"]
    cpu = _children_cpu()
    started = time.perf_counter()
    done = subprocess.run(command, cwd=REPO, env=env, capture_output=True, text=True, check=False)
    elapsed = time.perf_counter() - started
    cpu = _children_cpu() - cpu
    if done.returncode != 0:
        raise BenchError(f"`{' '.join(command)}` failed:\n{done.stderr.strip()[-2000:]}")
    return elapsed, cpu


def _import_times(python: str, env: dict[str, str], path: str) -> dict[str, int]:
    """Module -> its own import time in microseconds (``python -X importtime``), for one import of a DAG file."""
    command = [python, "-X", "importtime", "-c", f"import runpy; runpy.run_path({path!r})"]
    done = subprocess.run(command, cwd=REPO, env=env, capture_output=True, text=True, check=False)
    times: dict[str, int] = {}
    for line in done.stderr.splitlines():
        if line.startswith("import time:") and "self [us]" not in line:
            fields = line.split(":", 1)[1].split("|")
            if len(fields) == 3 and fields[0].strip().isdigit():
                times[fields[2].strip()] = int(fields[0])
    return times


def _extra_import_time(python: str, env: dict[str, str], empty_path: str) -> dict[str, Any]:
    """Where the real DAG's extra imports go: the self time of the modules the EmptyOperator file does not load."""
    ours = _import_times(python, env, DAG_FILE)
    base = _import_times(python, env, empty_path)
    extra = {name: us for name, us in ours.items() if name not in base}
    by_package = Counter()
    for name, us in extra.items():
        by_package[name.split(".", 1)[0]] += us
    top = sorted(extra.items(), key=lambda kv: -kv[1])[:TOP_MODULES]
    return {
        "total_ms": {"ours": sum(ours.values()) / 1000, "empty_operators": sum(base.values()) / 1000},
        "extra_ms": sum(extra.values()) / 1000,
        "extra_by_package_ms": {pkg: us / 1000 for pkg, us in by_package.most_common()},
        "extra_top_modules_ms": {name: us / 1000 for name, us in top},
    }


def run(runs: int | None, say: Callable[[str], None]) -> dict[str, Any]:
    """Generate the EmptyOperator twin, check it has the same shape, then time both imports alternately."""
    runs = runs or DEFAULT_RUNS
    env = project_env()
    python = venv_python(env)
    say(f"  reading the shape of {DAG_FILE}")
    shape = _shape(python, env, DAG_FILE)
    with tempfile.TemporaryDirectory(prefix="bench-dag-import-") as tmp:
        empty_path = str(Path(tmp) / "retrain_and_deploy_empty_shape.py")
        RESULTS.mkdir(parents=True, exist_ok=True)
        schedule_note = ""
        for with_schedule in (True, False):
            source = empty_dag_source(shape, with_schedule=with_schedule)
            Path(empty_path).write_text(source)
            (RESULTS / "dag_import_empty_shape.py").write_text(source)
            try:
                empty_shape = _shape(python, env, empty_path)
            except BenchError as err:
                if not with_schedule:
                    raise
                schedule_note = f"the schedule could not be rebuilt ({str(err).splitlines()[-1][:200]})"
                continue
            if _comparable(empty_shape, with_schedule) == _comparable(shape, with_schedule):
                break
            if not with_schedule:
                raise BenchError(
                    "The generated EmptyOperator DAG does not have the shape of the real one; see "
                    "bench/results/dag_import_empty_shape.py"
                )
            schedule_note = f"the schedule {shape['schedule_repr'][:200]} could not be rebuilt the same"
        if schedule_note:
            say(f"  note: the EmptyOperator DAG has schedule=None: {schedule_note}")
        say("  warm-up")
        _time_import(python, env, DAG_FILE)
        _time_import(python, env, empty_path)
        ours: list[float] = []
        base: list[float] = []
        ours_cpu: list[float] = []
        base_cpu: list[float] = []
        for i in range(1, runs + 1):
            for walls, cpus, path in ((ours, ours_cpu, DAG_FILE), (base, base_cpu, empty_path)):
                wall, cpu = _time_import(python, env, path)
                walls.append(wall)
                cpus.append(cpu)
            say(f"  run {i}/{runs}: ours {ours[-1]:.3f} s, EmptyOperators {base[-1]:.3f} s")
        say("  one more import of each with python -X importtime")
        import_time = _extra_import_time(python, env, empty_path)
    loaded = set(shape["modules"])
    extra = sorted(set(shape["modules"]) - set(empty_shape["modules"]))
    extra_by_package = Counter(m.split(".", 1)[0] for m in extra)
    ours_summary, base_summary = summary(ours), summary(base)
    return {
        "dag_file": DAG_FILE,
        "tasks": len(shape["tasks"]),
        "edges": sum(len(t["upstream"]) for t in shape["tasks"]),
        "params": len(shape["params"]),
        "shape_matches": True,
        "schedule": shape["schedule_repr"],
        "schedule_matched": not schedule_note,
        "schedule_note": schedule_note,
        "ours": ours_summary,
        "empty_operators": base_summary,
        **ratio_of(ours_summary, base_summary),
        "goal": GOAL,
        "ours_cpu": summary(ours_cpu),
        "empty_operators_cpu": summary(base_cpu),
        "cpu_ratio": summary(ours_cpu)["median"] / summary(base_cpu)["median"],
        "overhead_median_s": ours_summary["median"] - base_summary["median"],
        "forbidden_modules_loaded": {m: m in loaded for m in MUST_NOT_LOAD},
        "modules_loaded": {"ours": len(shape["modules"]), "empty_operators": len(empty_shape["modules"])},
        "extra_modules_by_package": dict(extra_by_package.most_common()),
        "import_time": import_time,
    }
