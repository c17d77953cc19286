"""The proxy's nginx.conf as rendered from docker/endpoint-proxy/nginx.conf.j2 (no engine needed)."""

from __future__ import annotations

import pytest

from ml_lifecycle.agent.proxy_config import FORWARDED_HEADERS, ServingLimits, render_config
from ml_lifecycle.errors import SpecError

SERVERS = ["172.30.0.2:8080", "172.30.0.3:8080"]


def test_the_defaults_are_sagemakers_serving_limits():
    config = render_config("ep", "r1", SERVERS, ServingLimits())
    assert "client_max_body_size 6m;" in config
    assert "proxy_read_timeout 60s;" in config
    assert "proxy_read_timeout 2000ms;" in config  # GET /ping
    assert 'add_header x-Amzn-Invoked-Production-Variant "AllTraffic" always;' in config
    assert "listen 8080 " in config


def test_only_the_contracts_headers_are_forwarded():
    config = render_config("ep", "r1", SERVERS, ServingLimits())
    assert config.count("proxy_pass_request_headers off;") == 2
    for header in FORWARDED_HEADERS:
        assert f"proxy_set_header {header} $http_{header.lower().replace('-', '_')};" in config
    assert {"Content-Type", "Accept", "X-Amzn-SageMaker-Custom-Attributes"} <= set(FORWARDED_HEADERS)
    assert all(h in ("Content-Type", "Accept") or h.startswith("X-Amzn-SageMaker-") for h in FORWARDED_HEADERS)


def test_every_instance_is_a_kept_alive_upstream_and_failures_go_to_the_next():
    config = render_config("ep", "r1", SERVERS, ServingLimits(max_payload_mb=20, invocation_timeout_s=30))
    assert all(f"server {server};" in config for server in SERVERS)
    assert "keepalive 64;" in config
    assert "proxy_next_upstream error timeout http_502 http_503 non_idempotent;" in config
    assert "proxy_next_upstream_timeout 30s;" in config
    assert "client_max_body_size 20m;" in config


def test_before_the_first_model_nginx_listens_only_on_an_unpublished_port():
    config = render_config("ep", "", [], ServingLimits())
    assert "listen 8081 " in config
    assert "listen 8080" not in config
    assert "upstream" not in config


@pytest.mark.parametrize("value", [0, 101])
def test_payload_limits_outside_1_to_100_mb_are_refused(value):
    with pytest.raises(SpecError, match="max_payload_mb"):
        ServingLimits(max_payload_mb=value)
