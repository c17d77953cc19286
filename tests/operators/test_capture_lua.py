"""mlc_capture.lua's encodings, run by the proxy image's own nginx and Lua against core.data_capture's rule.

The cases are rendered into an ``init_by_lua_block``, which nginx's master runs as it starts: it raises on the first
mismatch (nginx exits 1 with the case) or says how many cases matched and ends the process (exit 0), before anything
is served. (``nginx -t`` does not run init_by_lua.)
"""

from __future__ import annotations

import base64
import json
from pathlib import Path
from typing import Any

import pytest

from ml_lifecycle.compute.local.endpoints.capture_config import CaptureSetup, lua_settings
from ml_lifecycle.compute.local.endpoints.proxy import ensure_proxy_image
from ml_lifecycle.compute.local.engine.docker_engine import DockerEngine
from ml_lifecycle.core.data_capture import DataCapture

pytestmark = pytest.mark.docker

CAPTURE = DataCapture(100, "file:///c", csv_content_types=("text/csv",), json_content_types=("application/json",))
BODIES = [
    b"1,2,3\n4,5,6\n",
    'é,✓,🙂 and "quotes" \\ tabs\t'.encode(),
    b"",
    b"1,2,\xe9",  # latin-1
    b"\xc0\x80",  # an overlong NUL
    b"\xe0\x80\xaf",  # an overlong slash
    b"\xed\xa0\x80",  # a surrogate
    b"\xf4\x90\x80\x80",  # past U+10FFFF
    b"\xe2\x9c",  # cut short
    b"\xf0\x9f\x99\x82",  # U+1F642
    b"\xe1\x80\x80\xee\x80\x80\xf1\x80\x80\x80",  # U+1000, U+E000, U+40000
    b"a\xc2",  # cut short at the end
    b"\x80",  # a continuation byte alone
    bytes(range(256)),
]
CONTENT_TYPES = ["text/csv", "TEXT/CSV; charset=utf-8", "application/json", "application/jsonlines", ""]
TEST_CONFIG = """
load_module /usr/lib/nginx/modules/ndk_http_module.so;
load_module /usr/lib/nginx/modules/ngx_http_lua_module.so;
pid /tmp/test-nginx.pid;
events {{}}
http {{
    lua_package_path "/usr/local/share/mlc-proxy/?.lua;;";
    init_by_lua_block {{
        local capture = require("mlc_capture")
        capture.configure({settings})
        local cases = {cases}
        for i, case in ipairs(cases) do
            local body = ngx.decode_base64(case[2])
            local encoding, text = capture.encoded(case[1], body)
            local expected = case[3] == "BASE64" and ngx.encode_base64(body) or body
            if encoding ~= case[3] or text ~= expected then
                error("case " .. i .. " (" .. case[1] .. "): " .. encoding .. ", expected " .. case[3])
            end
        end
        io.stderr:write("mlc_capture: ", #cases, " cases as core.data_capture says\\n")
        os.exit(0)
    }}
}}
"""


def _lua_cases() -> tuple[str, int]:
    """Return the cases as a Lua table ``{{content type, base64 body, expected encoding}, ...}`` and their count."""
    cases = [
        (content_type, base64.b64encode(body).decode(), CAPTURE.body_encoding(content_type, body))
        for content_type in CONTENT_TYPES
        for body in BODIES
    ]
    rows = ", ".join("{" + ", ".join(json.dumps(value) for value in case) + "}" for case in cases)
    return "{" + rows + "}", len(cases)


def test_the_lua_encodes_as_the_core_rule_says(docker_client: Any, tmp_path: Path) -> None:
    image = ensure_proxy_image(DockerEngine(docker_client))
    cases, count = _lua_cases()
    settings = lua_settings(CaptureSetup(CAPTURE, tmp_path / "records", tmp_path / "state"))
    (tmp_path / "test.conf").write_text(TEST_CONFIG.format(settings=settings, cases=cases))
    for path, mode in ((tmp_path, 0o755), (tmp_path / "test.conf", 0o644)):
        path.chmod(mode)  # nginx's user (www-data) reads it

    output = docker_client.containers.run(
        image,
        entrypoint=["nginx", "-e", "stderr", "-c", "/test/test.conf", "-g", "daemon off;"],
        volumes={str(tmp_path): {"bind": "/test", "mode": "ro"}},
        remove=True,
        stdout=True,
        stderr=True,
    ).decode()

    assert f"mlc_capture: {count} cases as core.data_capture says" in output
    assert {CAPTURE.body_encoding(t, b) for t in CONTENT_TYPES for b in BODIES} == {"CSV", "JSON", "BASE64"}
