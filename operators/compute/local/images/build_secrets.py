"""Build secrets on the classic builder: ``RUN --mount=type=secret`` served once over loopback, never in a layer.

The engine's classic builder has no secret mounts, so a Dockerfile's ``RUN --mount=type=secret,id=X[,target=P]``
is rewritten: the step fetches the secret from a server that lives only for this build (on 127.0.0.1, reached
with the build on the host network, behind a one-time token), runs the command, and deletes the file before the
step ends, so no layer holds it. The one-time address is a build arg, so steps that use a secret (and the steps
after them) run on every build; an unchanged context is still not built at all.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import secrets as tokens
import shlex
import threading
from collections.abc import Iterator, Mapping
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from ml_lifecycle.errors import SpecError

URL_ARG = "ML_LIFECYCLE_SECRETS_URL"
_RUN = re.compile(r"^(\s*RUN\s+)((?:--\S+\s+)+)(.*)$", re.IGNORECASE | re.DOTALL)
_FLAG = re.compile(r"--(\w+)=(\S+)")
_FETCH = (
    '_mls() { if command -v curl >/dev/null 2>&1; then curl -fsS -o "$2" "$1"; '
    'elif command -v wget >/dev/null 2>&1; then wget -q -O "$2" "$1"; '
    "else python3 -c 'import sys,urllib.request as u; open(sys.argv[2],\"wb\").write(u.urlopen(sys.argv[1]).read())' "
    '"$1" "$2"; fi; }'
)


def read_secrets(sources: Mapping[str, str]) -> dict[str, bytes]:
    """Read each secret from its source: ``env:NAME`` (an environment variable) or a file path.

    :param sources: secret id -> source.
    """
    values: dict[str, bytes] = {}
    for secret_id, source in sources.items():
        if source.startswith("env:"):
            value = os.environ.get(source[4:])
            if value is None:
                raise SpecError(f"secrets[{secret_id!r}]", f"the variable {source[4:]} is not set", "Export it")
            values[secret_id] = value.encode()
        elif os.path.isfile(source):
            with open(source, "rb") as handle:
                values[secret_id] = handle.read()
        else:
            raise SpecError(
                f"secrets[{secret_id!r}]", f"{source!r} is neither env:NAME nor a file", "Give env:NAME or a path"
            )
    return values


def instructions(text: str) -> list[str]:
    """Split Dockerfile text into instructions, joining continued lines (comment lines inside are dropped).

    :param text: the Dockerfile.
    """
    out: list[str] = []
    pending: list[str] = []
    for line in text.splitlines():
        if pending and line.lstrip().startswith("#"):
            continue
        if line.rstrip().endswith("\\"):
            pending.append(line.rstrip()[:-1])
            continue
        out.append(" ".join([*pending, line]) if pending else line)
        pending = []
    if pending:
        out.append(" ".join(pending))
    return out


def rewrite_dockerfile(text: str, provided: set[str]) -> tuple[str, set[str]]:
    """Rewrite secret mounts into fetch-run-delete steps; return the new text and the secret ids it uses.

    :param text: the Dockerfile.
    :param provided: the ids given in ``secrets=``.
    """
    used: set[str] = set()
    lines: list[str] = []
    for instruction in instructions(text):
        match = _RUN.match(instruction)
        if not match:
            lines.append(instruction)
            continue
        targets: list[tuple[str, str]] = []
        for name, value in _FLAG.findall(match.group(2)):
            fields = dict(part.split("=", 1) for part in value.split(",") if "=" in part)
            if name != "mount" or fields.get("type") != "secret":
                raise SpecError(
                    "dockerfile",
                    f"`RUN --{name}={value}` needs BuildKit, which this engine's builder lacks",
                    "Only --mount=type=secret is supported here; remove the other flags",
                )
            secret_id = fields.get("id") or os.path.basename(fields.get("target", fields.get("dst", "")))
            if secret_id not in provided:
                if fields.get("required", "false") == "true":
                    raise SpecError("secrets", f"the Dockerfile needs the secret {secret_id!r}", "Add it to secrets=")
                continue
            used.add(secret_id)
            targets.append((secret_id, fields.get("target") or fields.get("dst") or f"/run/secrets/{secret_id}"))
        command = match.group(3).strip()
        if command.startswith("["):
            command = shlex.join(json.loads(command))
        fetch = " && ".join(
            f'mkdir -p "$(dirname {shlex.quote(path)})" && _mls "${URL_ARG}/{sid}" {shlex.quote(path)}'
            for sid, path in targets
        )
        remove = " ".join(shlex.quote(path) for _, path in targets)
        lines.append(f"ARG {URL_ARG}")
        lines.append(
            f"{match.group(1)}{_FETCH} && {fetch or 'true'} && {{ ( {command} ); rc=$?; rm -f {remove}; exit $rc; }}"
        )
    return "\n".join(lines) + "\n", used


@contextlib.contextmanager
def serve_secrets(values: Mapping[str, bytes]) -> Iterator[str]:
    """Serve the secrets on 127.0.0.1 behind a one-time token for the duration of the block; yield the base URL.

    :param values: secret id -> value.
    """
    token = tokens.token_urlsafe(24)

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            prefix = f"/{token}/"
            value = values.get(self.path[len(prefix) :]) if self.path.startswith(prefix) else None
            self.send_response(200 if value is not None else 404)
            self.send_header("Content-Length", str(len(value or b"")))
            self.end_headers()
            self.wfile.write(value or b"")

        def log_message(self, format: str, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, name="build-secrets", daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/{token}"
    finally:
        server.shutdown()
        server.server_close()
