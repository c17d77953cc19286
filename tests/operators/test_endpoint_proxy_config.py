"""The proxy's nginx.conf as rendered from docker/endpoint-proxy/nginx.conf.j2 (no engine needed)."""

from __future__ import annotations

import pytest

from ml_lifecycle.compute.local.endpoints.proxy_config import (
    FORWARDED_HEADERS,
    ServingLimits,
    render_config,
    render_edge_config,
    router_drain_s,
)
from ml_lifecycle.errors import EngineError, SpecError

SERVERS = ["172.30.0.2:8080", "172.30.0.3:8080"]
LISTEN = "127.0.0.1:40123"


def test_the_defaults_are_sagemakers_serving_limits():
    config = render_config("ep", "r1", SERVERS, ServingLimits())
    assert "client_max_body_size 6m;" in config
    assert "proxy_read_timeout 60s;" in config
    assert "proxy_read_timeout 2000ms;" in config  # GET /ping
    assert 'add_header x-Amzn-Invoked-Production-Variant "AllTraffic" always;' in config
    assert "listen unix:/tmp/mlc-router.sock backlog=4096;" in config  # only the edge reaches the router


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


def test_a_configuration_without_a_model_container_is_refused():
    with pytest.raises(EngineError, match="at least one model container"):
        render_config("ep", "r1", [], ServingLimits())


def test_nginx_writes_only_where_its_unprivileged_user_may():
    router = render_config("ep", "r1", SERVERS, ServingLimits())
    edge = render_edge_config("ep", LISTEN)
    assert "pid /tmp/nginx.pid;" in router
    assert "pid /tmp/nginx-edge.pid;" in edge
    assert "\nuser " not in router + edge


def test_the_edge_listens_on_the_handed_socket_and_sends_again_what_a_reloading_router_dropped():
    edge = render_edge_config("ep", LISTEN)
    assert f"listen {LISTEN} backlog=4096;" in edge
    assert "server unix:/tmp/mlc-router.sock;" in edge
    assert "proxy_next_upstream error non_idempotent;" in edge
    # Nothing in it depends on a revision's limits, so it never needs a reload: the router enforces them.
    assert "client_max_body_size 100m;" in edge
    assert "proxy_read_timeout 3660s;" in edge


@pytest.mark.parametrize(("invocation_timeout_s", "drain_s"), [(60, 131), (1, 13), (3600, 7211)])
def test_the_routers_old_workers_outlast_any_request_they_hold(invocation_timeout_s, drain_s):
    limits = ServingLimits(invocation_timeout_s=invocation_timeout_s)
    assert router_drain_s(limits) == drain_s  # two tries of the invocation timeout, a connect, a margin
    assert f"worker_shutdown_timeout {drain_s}s;" in render_config("ep", "r1", SERVERS, limits)


@pytest.mark.parametrize("seconds", [0, 3601])
def test_invocation_timeouts_outside_1_to_3600_s_are_refused(seconds):
    with pytest.raises(SpecError, match="invocation_timeout_s"):
        ServingLimits(invocation_timeout_s=seconds)


@pytest.mark.parametrize("value", [0, 101])
def test_payload_limits_outside_1_to_100_mb_are_refused(value):
    with pytest.raises(SpecError, match="max_payload_mb"):
        ServingLimits(max_payload_mb=value)
