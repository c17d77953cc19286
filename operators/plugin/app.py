"""The FastAPI app the plugin mounts in Airflow's API server: the ML lifecycle page and its data as JSON."""

from __future__ import annotations

from dataclasses import asdict
from typing import Any

from fastapi import FastAPI
from fastapi.responses import HTMLResponse

from ml_lifecycle.plugin.html_page import render
from ml_lifecycle.plugin.overview import Overview, collect

URL_PREFIX = "/ml-lifecycle"


def current_overview(*, ping: bool = True) -> Overview:
    """Read the overview from where the environment says the artifacts and local state are.

    :param ping: ask each endpoint's ``/ping`` whether it answers.
    """
    from ml_lifecycle import settings
    from ml_lifecycle.stores import store_factory

    return collect(
        settings.default_artifact_root(),
        settings.home_dir(),
        settings.work_dir(),
        store_factory("aws_default"),
        ping=ping,
        computes=settings.page_computes(),
    )


def create_app() -> FastAPI:
    """Build the app: ``GET /`` is the page, ``GET /api/overview`` the same data as JSON."""
    app = FastAPI(title="ML lifecycle", docs_url=None, redoc_url=None, openapi_url=None)

    @app.get("/", response_class=HTMLResponse)
    def page() -> str:
        """The ML lifecycle page: model versions with metrics, lineage and charts; endpoints; running jobs."""
        return render(current_overview())

    @app.get("/api/overview")
    def overview() -> dict[str, Any]:
        """The page's data as JSON."""
        return asdict(current_overview(ping=False))

    return app
