"""Rendering pages: Jinja2 templates shipped in the package, every value escaped."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from jinja2 import Environment, FileSystemLoader, select_autoescape
from starlette.requests import Request
from starlette.responses import HTMLResponse

from conversations.core.i18n import LANGUAGES, Catalog

WEB_DIR = Path(__file__).resolve().parent
STATIC_DIR = WEB_DIR / "static"
LANG_COOKIE = "aduan_lang"


def environment() -> Environment:
    return Environment(
        loader=FileSystemLoader(WEB_DIR / "templates"),
        autoescape=select_autoescape(default=True, default_for_string=True),
        trim_blocks=True,
        lstrip_blocks=True,
    )


def security_headers(frame_anywhere: bool) -> dict[str, str]:
    """No script, style or image from anywhere else; the chat may sit in a city's iframe,
    the desk in nobody's."""
    frames = "*" if frame_anywhere else "'none'"
    headers = {
        "Content-Security-Policy": (
            "default-src 'self'; img-src 'self' blob: data:; style-src 'self'; "
            f"script-src 'self'; connect-src 'self'; frame-ancestors {frames}; "
            "base-uri 'none'; form-action 'self'"
        ),
        "X-Content-Type-Options": "nosniff",
        "Referrer-Policy": "no-referrer",
        "Cache-Control": "no-store",
    }
    if not frame_anywhere:
        headers["X-Frame-Options"] = "DENY"
    return headers


def page_language(request: Request, catalog: Catalog) -> str:
    asked = request.query_params.get("lang") or request.cookies.get(LANG_COOKIE) or ""
    return asked if asked in LANGUAGES else catalog.default


class Pages:
    def __init__(self, catalog: Catalog, city: str):
        self.env = environment()
        self.catalog = catalog
        self.city = city

    def render(
        self,
        request: Request,
        name: str,
        lang: str,
        frame_anywhere: bool = False,
        status_code: int = 200,
        **values: Any,
    ) -> HTMLResponse:
        def t(key: str, **fields: object) -> str:
            return self.catalog.t(lang, key, **fields)

        html = self.env.get_template(name).render(t=t, lang=lang, city=self.city, **values)
        response = HTMLResponse(
            html, status_code=status_code, headers=security_headers(frame_anywhere)
        )
        if request.query_params.get("lang") == lang:
            response.set_cookie(
                LANG_COOKIE, lang, max_age=365 * 86400, httponly=True, samesite="lax"
            )
        return response
