"""HTTP front of the fake cloud on 127.0.0.1: the RPC API on `/`, FC 3.0 on `/2023-03-30/`, the
admin endpoint on `/_fake/`.

HTTP/1.1 with keep-alive, like the real endpoints, so the SDK's connection pool is exercised.
Start it in-process on an ephemeral port with `FakeCloudServer(cloud).start()`.
"""

from __future__ import annotations

import contextlib
import json
import re
import socket
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from fakecloud import fc_api
from fakecloud.acs3 import HttpRequest
from fakecloud.admin import PREFIX, handle_admin
from fakecloud.clock import RealClock
from fakecloud.cloud import ApiRequest, FakeCloud
from fakecloud.faults import DropConnection

_MAX_BODY = 16 * 1024 * 1024
FC_PREFIX = "/2023-03-30/"  # FC 3.0's ROA paths


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    # Headers and body go out in two writes; with Nagle on, keep-alive calls wait ~40 ms for
    # the client's delayed ACK between them.
    disable_nagle_algorithm = True
    server: _Server

    def do_GET(self) -> None:
        self._serve()

    def do_POST(self) -> None:
        self._serve()

    def do_DELETE(self) -> None:
        self._serve()

    def log_message(self, format: str, *args: Any) -> None:
        """Silent: the call log records every call."""

    def _serve(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        if length > _MAX_BODY:
            self._reply(413, {"Code": "RequestTooLarge", "Message": "Body too large."})
            return
        body = self.rfile.read(length) if length else b""
        # A client that uses the fake as its HTTP proxy sends the absolute form
        # (`http://fcv3.<region>.aliyuncs.com/...`); its Host header still names the target.
        target = re.sub(r"^https?://[^/]*", "", self.path) or "/"
        path, _, query = target.partition("?")
        if path.startswith(PREFIX):
            status, payload = handle_admin(self.server.cloud, self.command, target, body)
            self._reply(status, payload)
            return
        if path.startswith(FC_PREFIX):
            self._fc(path, query, body)
            return
        self._api(query, body)

    def _fc(self, path: str, query: str, body: bytes) -> None:
        headers = {name.lower(): value for name, value in self.headers.items()}
        request = HttpRequest(self.command, path, query, headers, body)
        response = fc_api.handle(self.server.cloud, request)
        self.send_response(response.status)
        for name, value in response.headers.items():
            self.send_header(name, value)
        if response.body:
            self.send_header("Content-Type", "application/json;charset=utf-8")
        self.send_header("Content-Length", str(len(response.body)))
        self.end_headers()
        self.wfile.write(response.body)

    def _api(self, query: str, body: bytes) -> None:
        request = ApiRequest(
            method=self.command,
            query=query,
            body=body,
            host=self.headers.get("Host", "127.0.0.1"),
            user_agent=self.headers.get("User-Agent", ""),
        )
        try:
            response = self.server.cloud.handle(request)
        except DropConnection:
            self._drop()
            return
        if response.raw is not None:
            self._send(response.status, response.raw)
            return
        self._reply(response.status, response.body)

    def _reply(self, status: int, payload: Any) -> None:
        self._send(status, json.dumps(payload, ensure_ascii=False).encode())

    def _send(self, status: int, data: bytes) -> None:
        self.send_response(status)
        self.send_header("Content-Type", "application/json;charset=utf-8")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def _drop(self) -> None:
        self.close_connection = True
        with contextlib.suppress(OSError):
            self.connection.shutdown(socket.SHUT_RDWR)


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 1024  # bursts of concurrent clients must not be refused
    cloud: FakeCloud


class FakeCloudServer:
    """Serves a FakeCloud over HTTP in background threads."""

    def __init__(
        self, cloud: FakeCloud, host: str = "127.0.0.1", port: int = 0, tick_interval: float = 0.05
    ) -> None:
        self.cloud = cloud
        self._server = _Server((host, port), _Handler)
        self._server.cloud = cloud
        self._tick_interval = tick_interval
        self._stopping = threading.Event()
        self._threads: list[threading.Thread] = []

    @property
    def port(self) -> int:
        return int(self._server.server_address[1])

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> FakeCloudServer:
        # A short poll interval: stop() waits for it, and tests start and stop a server each.
        serve = threading.Thread(
            target=self._server.serve_forever,
            kwargs={"poll_interval": 0.01},
            name="fake-cloud",
            daemon=True,
        )
        self._threads.append(serve)
        if isinstance(self.cloud.clock, RealClock):
            # With real time, state transitions must happen even when nobody calls the API.
            ticker = threading.Thread(target=self._tick, name="fake-cloud-clock", daemon=True)
            self._threads.append(ticker)
        for thread in self._threads:
            thread.start()
        return self

    def _tick(self) -> None:
        while not self._stopping.wait(self._tick_interval):
            self.cloud.tick()

    def stop(self) -> None:
        self._stopping.set()
        self._server.shutdown()
        self._server.server_close()
        for thread in self._threads:
            thread.join(timeout=5)

    def __enter__(self) -> FakeCloudServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
