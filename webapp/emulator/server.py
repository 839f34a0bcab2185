"""Serving the emulator from a background thread (tests, the demo) on a real socket."""

from __future__ import annotations

import ssl
import threading
from dataclasses import dataclass

from flask import Flask
from werkzeug.serving import BaseWSGIServer, WSGIRequestHandler, make_server

from . import create_emulator_app
from .options import EmulatorOptions


class QuietRequestHandler(WSGIRequestHandler):
    """No access log line per request: benchmarks make many thousands of calls."""

    def log_request(self, *args, **kwargs) -> None:
        pass


@dataclass
class RunningEmulator:
    url: str  # base URL, e.g. http://127.0.0.1:54321 (the instance and login URL)
    app: Flask
    server: BaseWSGIServer
    thread: threading.Thread

    @property
    def emulator(self):
        return self.app.emulator

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(timeout=5)


def serve_in_thread(options: EmulatorOptions | None = None, host: str = "127.0.0.1",
                    port: int = 0, ssl_context: ssl.SSLContext | None = None,
                    quiet: bool = True) -> RunningEmulator:
    """Start a threaded server (port 0 picks a free port) and return once it accepts calls."""
    app = create_emulator_app(options or EmulatorOptions())
    server = make_server(host, port, app, threaded=True, ssl_context=ssl_context,
                         request_handler=QuietRequestHandler if quiet else None)
    scheme = "https" if ssl_context is not None else "http"
    url = f"{scheme}://{host}:{server.server_port}"
    # A short poll interval makes stop() quick, which matters for fixtures started per test.
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05},
                              name=f"salesforce-emulator-{url}", daemon=True)
    thread.start()
    return RunningEmulator(url, app, server, thread)
