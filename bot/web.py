"""The one web server of a bot process: webhooks, health, and the web pages.

Starlette on uvicorn, in the bot's own event loop, so webhooks reach the same
inbox and outbox as everything else. The routes come from the adapters and
features; this module only serves them.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import socket
from collections.abc import Generator, Sequence

import uvicorn
from starlette.applications import Starlette
from starlette.routing import BaseRoute

log = logging.getLogger(__name__)


class _EmbeddedServer(uvicorn.Server):
    @contextlib.contextmanager
    def capture_signals(self) -> Generator[None, None, None]:
        # The bot's command line owns SIGINT/SIGTERM and stops everything in order.
        yield


class WebServer:
    def __init__(self, host: str, port: int, routes: Sequence[BaseRoute]):
        self.host = host
        self.requested_port = port
        self.app = Starlette(routes=list(routes))
        self._server: _EmbeddedServer | None = None
        self._task: asyncio.Task[None] | None = None

    @property
    def port(self) -> int:
        server = self._server
        if server is None or not server.servers:
            return self.requested_port
        sockets = server.servers[0].sockets
        return int(sockets[0].getsockname()[1]) if sockets else self.requested_port

    @property
    def url(self) -> str:
        host = "127.0.0.1" if self.host in ("0.0.0.0", "") else self.host
        if ":" in host:
            host = f"[{host}]"
        return f"http://{host}:{self.port}"

    def _bind(self) -> socket.socket:
        family = socket.AF_INET6 if ":" in self.host else socket.AF_INET
        sock = socket.socket(family, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((self.host, self.requested_port))
        except OSError as error:
            sock.close()
            raise SystemExit(
                f"web server: cannot listen on {self.host}:{self.requested_port} "
                f"({error.strerror}); set WEB_HOST / WEB_PORT"
            ) from None
        sock.listen(256)
        sock.set_inheritable(True)
        return sock

    async def start(self) -> None:
        sock = self._bind()
        config = uvicorn.Config(
            self.app,
            host=self.host,
            port=self.requested_port,
            log_config=None,
            access_log=False,
            lifespan="off",
            server_header=False,
            timeout_graceful_shutdown=5,
        )
        server = _EmbeddedServer(config)
        self._server = server
        self._task = asyncio.get_running_loop().create_task(server.serve(sockets=[sock]))
        # uvicorn tells it has started only through a flag.
        while not server.started and not self._task.done():  # noqa: ASYNC110
            await asyncio.sleep(0.01)

    async def stop(self) -> None:
        if self._server is None or self._task is None:
            return
        self._server.should_exit = True
        with contextlib.suppress(asyncio.CancelledError, SystemExit, Exception):
            await self._task
