"""`python -m tui --serve`: textual-serve behind a token and an Origin check.

Alone, textual-serve starts the app for any WebSocket that reaches its port, from any web page: a page open in
the user's browser could start training and press keys. Here, as in Jupyter:
- the printed URL holds a random token, and every request (page, script, WebSocket, download) needs it, as
  `?token=` or as the cookie the first valid visit sets, which the page's own requests then carry;
- a request whose Origin header is not the address it was sent to (scheme, host, port) is refused, token or
  not: a page from another origin, even on this machine (same site, so it has the cookie), gets nothing;
- a request with no Origin header needs only the token: browsers always send Origin with a WebSocket, so it
  comes from a program (curl, a script), not from a web page.
Only cli imports this module, and only with --serve: textual-serve is an optional extra.
"""
from __future__ import annotations

import hmac
import logging
import re
import secrets

from aiohttp import web
from textual_serve.server import Server
from yarl import URL

log = logging.getLogger("textual-serve")  # textual-serve's logger: shown in the same console
TOKEN = "token"
TOKEN_IN_QUERY = re.compile(TOKEN + r"=[^&\s\"]*")


class GuardedServer(Server):
    """textual-serve's Server, whose aiohttp app refuses requests without the token or from another origin."""

    def __init__(self, command: str, host: str, port: int, title: str | None = None) -> None:
        super().__init__(command, host=host, port=port, title=title)
        self.token = secrets.token_urlsafe(32)
        self.url = str(URL(self.public_url).with_path("/").with_query({TOKEN: self.token}))

    def initialize_logging(self) -> None:
        super().initialize_logging()
        logging.getLogger("aiohttp.access").addFilter(hide_token)  # its lines show each request's query

    async def _make_app(self) -> web.Application:
        app = await super()._make_app()
        app.middlewares.append(guard(self.token))
        return app

    async def handle_index(self, request: web.Request) -> web.StreamResponse:
        # The page names its script and WebSocket by absolute URL, built from public_url: make that the address
        # this page was loaded from (localhost, a tunnel's own port), or those requests would go to another
        # origin, without the cookie. Safe to set per request: nothing awaits between this and its use.
        self.public_url = own_origin(request)
        return await super().handle_index(request)

    async def on_startup(self, app: web.Application) -> None:
        # Instead of textual-serve's "Serving on http://...", which no longer opens without the token.
        for line in (f"Serving {self.title} to a browser. Open this address (the token is the key; keep it private):",
                     f"  {self.url}", "Press Ctrl+C to quit"):
            self.console.print(line, markup=False, highlight=False, soft_wrap=True)  # soft_wrap: one line to copy


def guard(token: str):
    """The aiohttp middleware: refuse (403) what refusal() names; set the cookie on a page opened with ?token=."""

    @web.middleware
    async def middleware(request: web.Request, handler) -> web.StreamResponse:
        if (why := refusal(request, token)) is not None:
            log.warning("refused %s %s: %s", request.method, request.path, why)
            raise web.HTTPForbidden(text=f"403 Forbidden: {why}\n")
        response = await handler(request)
        if matches(request.query.get(TOKEN), token) and not response.prepared:  # a WebSocket's headers are sent
            response.set_cookie(cookie_name(request), token, path="/", httponly=True, samesite="Strict")
        return response

    return middleware


def hide_token(record: logging.LogRecord) -> bool:
    """A logging filter: the token is printed once, not again in each access log line."""
    record.msg = TOKEN_IN_QUERY.sub(TOKEN + "=(hidden)", record.getMessage())
    record.args = ()
    return True


def refusal(request: web.Request, token: str) -> str | None:
    """Why this request is refused, or None when it may pass."""
    origin, ours = request.headers.get("Origin"), origin_key(own_origin(request))
    if origin is not None and (ours is None or origin_key(origin) != ours):
        return f"Origin {origin!r} is not this server's {own_origin(request)}"
    if not (matches(request.query.get(TOKEN), token) or matches(request.cookies.get(cookie_name(request)), token)):
        return "no valid token (open the URL with ?token= that python -m tui --serve printed)"
    return None


def own_origin(request: web.Request) -> str:
    """scheme://host:port this request was sent to, as the client named it (its Host header)."""
    return f"{request.scheme}://{request.host}"


def origin_key(address: str) -> tuple[str, str, int | None] | None:
    """(scheme, host, port) of an address, default port filled in; None when it names no host ("null")."""
    try:
        url = URL(address)
    except ValueError:
        return None
    return (url.scheme.lower(), url.host.lower(), url.port) if url.host else None


def matches(given: str | None, token: str) -> bool:
    # compare_digest: no timing hint of how much matched; bytes, since it refuses non-ASCII str
    return given is not None and hmac.compare_digest(given.encode(), token.encode())


def cookie_name(request: web.Request) -> str:
    """One cookie per port: cookies are per host, not per port, and two servers must not share one."""
    key = origin_key(own_origin(request))
    return f"backprop-tui-{key[2] if key else 0}"
