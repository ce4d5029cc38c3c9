"""A pywa client whose every request goes to ``WHATSAPP_API_BASE_URL``.

pywa has no base-URL setting: it fixes ``https://graph.facebook.com/v<version>``
on the httpx client it is given, and media downloads go to Meta's media hosts.
The transport below sends all of them to the configured address (a fake Graph
API in tests, a proxy where the server has no direct way out), keeping the path
and the query.
"""

from __future__ import annotations

import logging

import httpx
from pywa_async.client import WhatsApp

from conversations.core.messages import MediaRef

log = logging.getLogger(__name__)

DEFAULT_BASE_URL = "https://graph.facebook.com"


class RoutingTransport(httpx.AsyncBaseTransport):
    def __init__(self, base_url: str, inner: httpx.AsyncBaseTransport | None = None):
        self.target = httpx.URL(base_url)
        self.inner = inner or httpx.AsyncHTTPTransport()

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        request.url = request.url.copy_with(
            scheme=self.target.scheme, host=self.target.host, port=self.target.port
        )
        request.headers["host"] = self.target.netloc.decode("ascii")
        return await self.inner.handle_async_request(request)

    async def aclose(self) -> None:
        await self.inner.aclose()


def http_client(base_url: str, timeout: float = 20.0) -> httpx.AsyncClient:
    """The httpx client pywa uses; routed when the address is not Meta's own."""
    limits = httpx.Limits(max_connections=64, max_keepalive_connections=32)
    if base_url.rstrip("/") == DEFAULT_BASE_URL:
        return httpx.AsyncClient(timeout=timeout, limits=limits)
    transport = RoutingTransport(base_url, httpx.AsyncHTTPTransport(limits=limits))
    return httpx.AsyncClient(timeout=timeout, transport=transport)


def whatsapp_client(
    phone_number_id: str, token: str, session: httpx.AsyncClient, api_version: str
) -> WhatsApp:
    """A sending-only pywa client: no web server of its own (our route takes the
    webhooks), no calls to Meta at construction."""
    return WhatsApp(
        phone_id=phone_number_id,
        token=token,
        session=session,
        api_version=api_version,
        filter_updates=False,
    )


class WhatsAppMediaFetcher:
    """A citizen's photo: its URL from the Graph API, then the bytes (both routed)."""

    def __init__(self, client: WhatsApp):
        self.client = client

    async def fetch(self, media: MediaRef) -> bytes:
        found = await self.client.get_media_url(media.file_id)
        return await self.client.get_media_bytes(found.url)
