"""--serve trusts no web page: a token in the printed URL, and no WebSocket from another origin (issue 13).

Each test serves tui.serve.GuardedServer's aiohttp app on a free loopback port, in its own event loop, and
talks to it with aiohttp's client. The served command is a stand-in for the app (a Python one-liner that speaks
textual-serve's protocol and leaves a marker file), so "the app ran" is checked in well under a second.
"""
from __future__ import annotations

import asyncio
import contextlib
import gc
import logging
import shlex
import socket
import subprocess
import sys
from pathlib import Path

import pytest

pytest.importorskip("textual_serve", reason="the web extra (textual-serve) is not installed")

import aiohttp  # comes with textual-serve
from aiohttp import web

from tests.conftest import ROOT
from tui.serve import GuardedServer, hide_token

EVIL = "http://evil.example"
STAND_IN = """
import pathlib, sys
pathlib.Path(sys.argv[1]).write_text("started")
out = sys.stdout.buffer
out.write(b"__GANGLION__\\n" + b"D" + (5).to_bytes(4, "big") + b"hello")  # textual-serve's prelude, a data packet
out.flush()
"""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Served:
    def __init__(self, server: GuardedServer, started: Path) -> None:
        self.server, self.started = server, started
        self.base = f"http://127.0.0.1:{server.port}"
        self.origin = self.base  # what a browser sends from the page it got here

    def ws(self, query: str = "") -> str:
        return f"{self.base}/ws{query}"


@contextlib.asynccontextmanager
async def serving(tmp_path: Path):
    started = tmp_path / "started"
    command = shlex.join([sys.executable, "-c", STAND_IN, str(started)])
    server = GuardedServer(command, host="127.0.0.1", port=free_port(), title="backprop-tui")
    runner = web.AppRunner(await server._make_app())
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", server.port).start()
    try:
        yield Served(server, started)
    finally:
        await runner.cleanup()
        # textual-serve leaves each app's stdin pipe to the garbage collector: let it go while the loop runs
        gc.collect()
        await asyncio.sleep(0)


def client() -> aiohttp.ClientSession:
    # unsafe: keep cookies set by an IP address (127.0.0.1), as browsers do
    return aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True), timeout=aiohttp.ClientTimeout(total=10))


async def refused_ws(session: aiohttp.ClientSession, url: str, **kwargs) -> int:
    """The status a WebSocket handshake was refused with (the test fails if it was accepted)."""
    with pytest.raises(aiohttp.WSServerHandshakeError) as refused:
        async with session.ws_connect(url, **kwargs):
            pass
    return refused.value.status


async def first_bytes(session: aiohttp.ClientSession, url: str, **kwargs) -> bytes:
    """What the app sent first over an accepted WebSocket."""
    async with session.ws_connect(url, **kwargs) as ws:
        message = await ws.receive(timeout=10)
        assert message.type == aiohttp.WSMsgType.BINARY, message
        return message.data


def run(test) -> None:
    asyncio.run(asyncio.wait_for(test(), timeout=30))


def test_each_server_prints_its_own_random_token_in_the_url(capsys):
    servers = [GuardedServer("true", host="127.0.0.1", port=8123) for _ in range(2)]
    first, second = servers
    assert first.token != second.token and len(first.token) >= 40  # token_urlsafe(32): 256 random bits
    assert first.url == f"http://127.0.0.1:8123/?token={first.token}"
    asyncio.run(first.on_startup(web.Application()))
    assert f"  {first.url}\n" in capsys.readouterr().out  # on a line of its own, not wrapped


def test_the_page_needs_the_token_then_its_cookie_opens_the_rest(tmp_path):
    async def test():
        async with serving(tmp_path) as served, client() as session:
            for query in ("", "?token=", "?token=wrong", f"?token={served.server.token}x", "?token=\u00e9"):
                async with session.get(f"{served.base}/{query}") as response:
                    assert response.status == 403, query
            async with session.get(f"{served.base}/static/js/textual.js") as response:
                assert response.status == 403  # everything needs it, not just the page
            async with session.get(served.server.url) as response:
                assert response.status == 200
                page = await response.text()
                cookie = response.headers["Set-Cookie"]
            assert f'"ws://127.0.0.1:{served.server.port}/ws"' in page
            assert "HttpOnly" in cookie and "SameSite=Strict" in cookie
            async with session.get(f"{served.base}/static/js/textual.js") as response:
                assert response.status == 200  # the page's own script: the cookie carries the token
            assert not served.started.exists()

    run(test)


def test_a_websocket_from_another_origin_is_refused_even_with_the_token(tmp_path):
    async def test():
        async with serving(tmp_path) as served, client() as session:
            async with session.get(served.server.url) as response:  # the user's browser: it has the cookie too
                assert response.status == 200
            port = served.server.port
            for origin in (EVIL, f"http://127.0.0.1:{port + 1}", f"https://127.0.0.1:{port}", f"http://localhost:{port}",
                           "null", "not a url"):
                assert await refused_ws(session, served.ws(f"?token={served.server.token}"), origin=origin) == 403
            assert not served.started.exists()  # the app never started

    run(test)


def test_a_websocket_from_the_page_own_origin_with_the_token_runs_the_app(tmp_path):
    async def test():
        async with serving(tmp_path) as served, client() as session:
            token = served.server.token
            assert await first_bytes(session, served.ws(f"?token={token}"), origin=served.origin) == b"hello"
            assert served.started.exists()
            async with session.get(served.server.url):
                pass
            # as the browser does: the page's script opens /ws?width=..&height=.. and the cookie carries the token
            assert await first_bytes(session, served.ws("?width=80&height=24"), origin=served.origin) == b"hello"

    run(test)


def test_a_websocket_without_the_token_is_refused(tmp_path):
    async def test():
        async with serving(tmp_path) as served, client() as session:
            for query in ("", "?token=wrong"):
                assert await refused_ws(session, served.ws(query), origin=served.origin) == 403
                assert await refused_ws(session, served.ws(query)) == 403
            assert not served.started.exists()

    run(test)


def test_without_an_origin_header_the_token_is_enough(tmp_path):
    # Browsers always send Origin with a WebSocket: one without it is a program (curl, a script), not a web page.
    async def test():
        async with serving(tmp_path) as served, client() as session:
            assert await first_bytes(session, served.ws(f"?token={served.server.token}")) == b"hello"

    run(test)


def test_the_page_points_back_to_the_address_it_was_opened_at(tmp_path):
    # localhost instead of 127.0.0.1, or a tunnel's other port: script and WebSocket must stay on the page's origin
    async def test():
        async with serving(tmp_path) as served, client() as session:
            headers = {"Host": f"localhost:{served.server.port + 7}"}
            async with session.get(served.server.url, headers=headers) as response:
                page = await response.text()
            assert f'"ws://localhost:{served.server.port + 7}/ws"' in page
            assert f'"http://localhost:{served.server.port + 7}/static/js/textual.js"' in page

    run(test)


def test_the_access_log_does_not_repeat_the_token():
    record = logging.LogRecord("aiohttp.access", logging.INFO, "", 0, '"GET /ws?token=s3cret&width=80 HTTP/1.1" %s',
                               (200,), None)
    assert hide_token(record) and record.getMessage() == '"GET /ws?token=(hidden)&width=80 HTTP/1.1" 200'


def test_a_taken_port_is_one_line_and_status_1(tmp_path):
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        done = subprocess.run([sys.executable, "-m", "tui", "--serve", "--port", str(port), "--runs-dir", str(tmp_path)],
                              cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert done.returncode == 1 and "Traceback" not in done.stderr
    assert done.stderr.splitlines() == [done.stderr.strip()] and "error: --serve:" in done.stderr
    assert f"{port}" in done.stderr and "in use" in done.stderr
