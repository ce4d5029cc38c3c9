"""python-telegram-bot's requests over aiohttp instead of httpx.

httpx (with httpcore, h11 and anyio, all pure Python) cost the bot more CPU per Bot API
call than anything else python-telegram-bot does; aiohttp parses HTTP in C. This is
PTB's documented extension point (``telegram.request.BaseRequest``), with
``HTTPXRequest``'s behaviour: the same default timeouts, a timeout raises
``telegram.error.TimedOut``, any other transport failure ``telegram.error.NetworkError``,
parameters go as a form (multipart when there are files), ``HTTPS_PROXY``/``ALL_PROXY``
are honoured and certificates are checked against certifi's list, as httpx does.

aiohttp's timeouts are cut differently from httpx's, so they are mapped:

- waiting for a pooled connection and opening one share aiohttp's ``connect`` budget
  (``pool_timeout + connect_timeout``); opening alone is bounded by ``connect_timeout``;
- ``read_timeout`` is the longest silence from the server once the request is sent;
- ``write_timeout`` bounds each 64 KiB of an upload (aiohttp has no write timeout of its
  own); a request without files is a few hundred bytes, which never wait to be written.
"""

from __future__ import annotations

import asyncio
import contextlib
import ssl
import urllib.request
from collections.abc import AsyncIterator
from urllib.parse import urlencode

import aiohttp
import certifi
from telegram._utils.defaultvalue import DefaultValue
from telegram._utils.types import ODVInput
from telegram.error import NetworkError, TimedOut
from telegram.request import BaseRequest, RequestData

CHUNK = 64 * 1024
FORM = "application/x-www-form-urlencoded"


class AiohttpRequest(BaseRequest):
    """A ``BaseRequest`` on one ``aiohttp.ClientSession``, opened on first use (a
    ``ClientSession`` belongs to the running event loop) and closed by ``shutdown``."""

    __slots__ = (
        "_closed",
        "_connect_timeout",
        "_environment",
        "_media_write_timeout",
        "_pool_size",
        "_pool_timeout",
        "_proxies",
        "_proxy",
        "_read_timeout",
        "_session",
        "_write_timeout",
    )

    def __init__(
        self,
        connection_pool_size: int = 256,
        read_timeout: float | None = 5.0,
        write_timeout: float | None = 5.0,
        connect_timeout: float | None = 5.0,
        pool_timeout: float | None = 1.0,
        media_write_timeout: float | None = 20.0,
        proxy: str | None = None,
    ):
        self._pool_size = connection_pool_size
        self._read_timeout = read_timeout
        self._write_timeout = write_timeout
        self._connect_timeout = connect_timeout
        self._pool_timeout = pool_timeout
        self._media_write_timeout = media_write_timeout
        self._proxy = proxy
        self._session: aiohttp.ClientSession | None = None
        self._closed = False
        self._environment: dict[str, str] = {}
        self._proxies: dict[str, str | None] = {}

    @property
    def read_timeout(self) -> float | None:
        return self._read_timeout

    def _open(self) -> aiohttp.ClientSession:
        connector = aiohttp.TCPConnector(
            limit=self._pool_size,
            limit_per_host=0,
            ssl=ssl.create_default_context(cafile=certifi.where()),
        )
        # Proxies from the environment, as httpx takes them when its client is made.
        self._environment = urllib.request.getproxies_environment()
        self._proxies = {}
        self._session = aiohttp.ClientSession(
            connector=connector,
            headers={"User-Agent": self.USER_AGENT},
            # PTB and this class parse and report; aiohttp need not check statuses.
            raise_for_status=False,
        )
        return self._session

    async def initialize(self) -> None:
        self._closed = False
        if self._session is None or self._session.closed:
            self._open()

    async def shutdown(self) -> None:
        self._closed = True
        session, self._session = self._session, None
        if session is not None and not session.closed:
            await session.close()

    async def do_request(
        self,
        url: str,
        method: str,
        request_data: RequestData | None = None,
        read_timeout: ODVInput[float] = BaseRequest.DEFAULT_NONE,
        write_timeout: ODVInput[float] = BaseRequest.DEFAULT_NONE,
        connect_timeout: ODVInput[float] = BaseRequest.DEFAULT_NONE,
        pool_timeout: ODVInput[float] = BaseRequest.DEFAULT_NONE,
    ) -> tuple[int, bytes]:
        if self._closed:
            raise RuntimeError("This AiohttpRequest is not initialized!")
        session = self._session
        if session is None or session.closed:
            session = self._open()
        files = request_data is not None and request_data.contains_files

        if isinstance(read_timeout, DefaultValue):
            read_timeout = self._read_timeout
        if isinstance(connect_timeout, DefaultValue):
            connect_timeout = self._connect_timeout
        if isinstance(pool_timeout, DefaultValue):
            pool_timeout = self._pool_timeout
        if isinstance(write_timeout, DefaultValue):
            write_timeout = self._media_write_timeout if files else self._write_timeout
        timeouts = aiohttp.ClientTimeout(
            total=None,
            connect=_plus(pool_timeout, connect_timeout),
            sock_connect=connect_timeout,
            sock_read=read_timeout,
        )

        proxy = self._proxy or self._env_proxy(url)
        try:
            if request_data is not None and files:
                return await self._upload(
                    session, url, method, request_data, timeouts, write_timeout, proxy
                )
            headers = None
            body = None
            if request_data is not None:
                parameters = request_data.json_parameters
                if parameters:
                    headers = {"Content-Type": FORM}
                    body = urlencode(parameters).encode()
            async with session.request(
                method, url, data=body, headers=headers, timeout=timeouts, proxy=proxy
            ) as response:
                return response.status, await response.read()
        except TimeoutError as error:
            # aiohttp's own timeouts are TimeoutErrors too (ServerTimeoutError,
            # ConnectionTimeoutError), as is the upload's write deadline.
            raise TimedOut from error
        except aiohttp.ClientError as error:
            # Some of aiohttp's messages carry the URL, whose path carries the token.
            reason = str(error).replace(url, url[: url.find("/bot") + 4] + "<token>/…")
            raise NetworkError(f"aiohttp.{type(error).__name__}: {reason}") from error

    async def _upload(
        self,
        session: aiohttp.ClientSession,
        url: str,
        method: str,
        request_data: RequestData,
        timeouts: aiohttp.ClientTimeout,
        write_timeout: float | None,
        proxy: str | None,
    ) -> tuple[int, bytes]:
        content_type, data = await _multipart(request_data)
        headers = {"Content-Type": content_type, "Content-Length": str(len(data))}
        async with asyncio.timeout(None) as writing:
            body = _timed_chunks(data, writing, write_timeout)
            async with session.request(
                method, url, data=body, headers=headers, timeout=timeouts, proxy=proxy
            ) as response:
                return response.status, await response.read()

    def _env_proxy(self, url: str) -> str | None:
        """The proxy for ``url`` from HTTP(S)_PROXY/ALL_PROXY/NO_PROXY, read once:
        aiohttp's ``trust_env`` reads them (and ~/.netrc) again on every request."""
        end = url.find("/", url.find("//") + 2)
        origin = url if end < 0 else url[:end]
        if origin not in self._proxies:
            self._proxies[origin] = _proxy_for(origin, self._environment)
        return self._proxies[origin]


async def _multipart(request_data: RequestData) -> tuple[str, bytes]:
    """The form as one body, so that it is sent with its length (as httpx does), not
    chunked, and can be written a chunk at a time under the write timeout."""
    form = aiohttp.FormData(quote_fields=False)
    for name, value in request_data.json_parameters.items():
        form.add_field(name, value)
    for name, (filename, content, mimetype) in request_data.multipart_data.items():
        form.add_field(name, content, filename=filename, content_type=mimetype)
    writer = form()
    return writer.content_type, await writer.as_bytes()


async def _timed_chunks(
    data: bytes, deadline: asyncio.Timeout, seconds: float | None
) -> AsyncIterator[bytes]:
    """``data`` in chunks; each must be taken by the socket within ``seconds``, after
    which the response's own timeouts apply. aiohttp writes from a task of its own; the
    deadline belongs to the request's task, which it cancels."""
    loop = asyncio.get_running_loop()
    with contextlib.suppress(RuntimeError):  # the request is over already
        for start in range(0, len(data), CHUNK):
            if seconds is not None:
                deadline.reschedule(loop.time() + seconds)
            yield data[start : start + CHUNK]
        deadline.reschedule(None)


def _proxy_for(origin: str, environment: dict[str, str]) -> str | None:
    scheme, _, host = origin.partition("://")
    # NO_PROXY, as urllib (and aiohttp) read it; typeshed lacks this stdlib function.
    if urllib.request.proxy_bypass_environment(host, environment):  # type: ignore[attr-defined]
        return None
    return environment.get(scheme) or environment.get("all")


def _plus(first: float | None, second: float | None) -> float | None:
    if first is None or second is None:
        return None
    return first + second
