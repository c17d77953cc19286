"""InvokeEndpoint (sagemaker-runtime): ``POST /endpoints/{EndpointName}/invocations`` forwarded to the endpoint's
own URL with SageMaker's headers, its answer passed back as SageMaker passes it.

The endpoint's URL is looked up again in the background once LOOKUP_TTL_S passed (no request waits for it), at once
when this API updated or deleted the endpoint (forget), and when its URL stops taking connections; requests travel
over a pool of kept-alive connections, so the hop adds little to what the container takes.
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Callable, Mapping
from typing import Any

import aiohttp

from ml_lifecycle.api_server.errors import ApiError
from ml_lifecycle.compute.ec2.request_signing import signed_headers

# A lookup reads the endpoint's documents and asks its backend (a few milliseconds of this process's time, which the
# requests it overlaps wait for): changes this API makes and an endpoint that moved or went are noticed without it.
LOOKUP_TTL_S = 30.0
# Request headers SageMaker passes to the container, and the answer's it passes back.
FORWARDED = ("content-type", "accept", "x-amzn-sagemaker-custom-attributes", "x-amzn-sagemaker-inference-id")
ANSWERED = ("content-type", "x-amzn-sagemaker-custom-attributes")
VARIANT_HEADER = "x-amzn-invoked-production-variant"
TARGET_VARIANT = "x-amzn-sagemaker-target-variant"
UNSUPPORTED = {
    "x-amzn-sagemaker-target-model": "multi-model endpoints do not run here",
    "x-amzn-sagemaker-target-container-hostname": "multi-container endpoints do not run here",
    "x-amzn-sagemaker-inference-component": "inference components do not run here",
    "x-amzn-sagemaker-enable-explanations": "SageMaker Clarify's explainer does not run here",
}


Target = tuple[str, str, str | None]  # the endpoint's URL, its variant, the region its requests are signed for


class Invoker:
    """Forwards invocations to endpoints, SigV4-signed (execute-api) for those that require IAM (auth="iam").

    :param locate: endpoint name -> (its URL, its variant's name, the region to sign for or None); raises ApiError
        for one that does not serve.
    :param invocation_timeout_s: how long a container may take to answer (SageMaker's limit is 60 s).
    :param credentials: returns the credentials requests to IAM endpoints are signed with (the API's AWS
        connection's); None: such requests go unsigned (and the endpoint refuses them).
    """

    def __init__(
        self,
        locate: Callable[[str], Target],
        invocation_timeout_s: float = 60.0,
        credentials: Callable[[], Any] | None = None,
    ) -> None:
        self.locate = locate
        self.credentials = credentials
        self.timeout = aiohttp.ClientTimeout(total=invocation_timeout_s)
        self.where: dict[str, tuple[float, Target]] = {}
        self.refreshing: set[str] = set()
        self.forgotten: dict[str, int] = {}  # endpoint name -> how often forget() was called (a change meanwhile)
        self._forgetting = threading.Lock()
        self.session: aiohttp.ClientSession | None = None

    async def _target(self, name: str) -> Target:
        """Return (URL, variant, signing region) of an endpoint. A lookup older than LOOKUP_TTL_S is still used while
        a fresh one runs in the background, so no request waits for it; only an endpoint never looked up waits.

        :param name: the endpoint's name.
        """
        cached = self.where.get(name)
        if cached is None:
            return await self._look_up(name)
        if time.monotonic() - cached[0] >= LOOKUP_TTL_S and name not in self.refreshing:
            self.refreshing.add(name)
            asyncio.get_running_loop().create_task(self._refresh(name))
        return cached[1]

    def forget(self, name: str) -> None:
        """Drop what is known of an endpoint (it was updated or deleted): the next request looks it up.

        :param name: the endpoint's name.
        """
        with self._forgetting:
            self.forgotten[name] = self.forgotten.get(name, 0) + 1
            self.where.pop(name, None)

    async def _look_up(self, name: str) -> Target:
        """Look an endpoint up and keep the answer, unless the endpoint changed while it was looked up.

        :param name: the endpoint's name.
        """
        forgotten = self.forgotten.get(name, 0)
        target = await asyncio.to_thread(self.locate, name)
        with self._forgetting:  # forget() runs in other threads: no change slips between the check and the keep
            if self.forgotten.get(name, 0) == forgotten:
                self.where[name] = (time.monotonic(), target)
        return target

    async def _refresh(self, name: str) -> None:
        """Look an endpoint up again; forget it when it no longer serves (the next request then says so).

        :param name: the endpoint's name.
        """
        try:
            await self._look_up(name)
        except Exception:
            self.forget(name)
        finally:
            self.refreshing.discard(name)

    async def invoke(self, name: str, headers: Mapping[str, str], body: bytes) -> tuple[int, dict[str, str], bytes]:
        """Forward one invocation; return (status, headers, body) of the answer.

        :param name: the endpoint's name.
        :param headers: the request's headers, lower-cased.
        :param body: its body.
        """
        for header, why in UNSUPPORTED.items():
            if header in headers:
                raise ApiError("ValidationError", f"{header} is not supported here: {why}")
        url, variant, region = await self._target(name)
        wanted = headers.get(TARGET_VARIANT)
        if wanted and wanted != variant:
            raise ApiError("ValidationError", f"Endpoint {name} has no variant {wanted!r}; it serves {variant!r}")
        if self.session is None:
            self.session = aiohttp.ClientSession(timeout=self.timeout, auto_decompress=False)
        forwarded = {h: headers[h] for h in FORWARDED if h in headers}
        try:
            status, answered, payload = await self._post(url, forwarded, body, region)
        except aiohttp.ClientConnectorError as err:
            # Nothing was sent: the endpoint may have moved (an update) or gone (deleted) since it was looked up.
            self.forget(name)
            fresh, _, region = await self._target(name)
            if fresh == url:
                raise ApiError(
                    "ModelError",
                    f"Received no answer from the model of endpoint {name}: {err or type(err).__name__}",
                    424,
                ) from err
            status, answered, payload = await self._post(fresh, forwarded, body, region)
        except (aiohttp.ClientError, TimeoutError) as err:  # sent, maybe run: an invocation is never sent twice
            self.forget(name)
            await self._target(name)  # an endpoint deleted meanwhile says so; one that lives answered badly
            raise ApiError(
                "ModelError", f"The model of endpoint {name} did not answer: {err or type(err).__name__}", 424
            ) from err
        if status >= 400:
            raise ModelError(name, status, payload)
        return 200, {**answered, VARIANT_HEADER: variant}, payload

    async def _post(
        self, url: str, headers: dict[str, str], body: bytes, region: str | None
    ) -> tuple[int, dict[str, str], bytes]:
        """POST an invocation to an endpoint's URL; return (status, the headers passed back, body).

        :param url: the endpoint's URL.
        :param headers: the headers to send.
        :param body: the body.
        :param region: the region to sign the request for (execute-api), or None to send it unsigned.
        """
        assert self.session is not None
        if region is not None and self.credentials is not None:
            headers = signed_headers("POST", f"{url}/invocations", body, headers, region, self.credentials())
        async with self.session.post(f"{url}/invocations", data=body, headers=headers) as answer:
            payload = await answer.read()
            return answer.status, {h: answer.headers[h] for h in ANSWERED if h in answer.headers}, payload

    async def close(self) -> None:
        """Close the connection pool."""
        if self.session is not None:
            await self.session.close()
            self.session = None


class ModelError(ApiError):
    """The container answered with an error: SageMaker's ModelError, with the container's status and message.

    :param name: the endpoint's name.
    :param status: the container's HTTP status.
    :param payload: its answer.
    """

    def __init__(self, name: str, status: int, payload: bytes) -> None:
        original = payload.decode("utf-8", errors="replace")
        super().__init__(
            "ModelError",
            f'Received {"client" if status < 500 else "server"} error ({status}) from primary with message "{original}". See the endpoint\'s log.',
            424,
        )
        self.extra: dict[str, Any] = {"OriginalStatusCode": status, "OriginalMessage": original}
