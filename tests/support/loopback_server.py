"""A real HTTP server on the loopback, the base of the stand-ins for outside services
(tests/support/*_stand_in.py: Rasa, LINE's Messaging API, a shop's order API). Standard library
only: both environments import it."""
from __future__ import annotations

import threading
from http.server import ThreadingHTTPServer
from typing import Optional


class _Server(ThreadingHTTPServer):
    request_queue_size = 256  # 100 customers at once must not overflow the listen backlog
    daemon_threads = True


class LoopbackServer:
    """start() serves handler_class() on 127.0.0.1 (a free port the first time; the same port after
    a stop, so a restart is the same server); stop() is down for real: the port refuses connections."""
    port: int = 0
    _server: Optional[ThreadingHTTPServer] = None

    def handler_class(self):
        raise NotImplementedError

    @property
    def origin(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self):
        self._server = _Server(("127.0.0.1", self.port), self.handler_class())
        self.port = self._server.server_address[1]
        threading.Thread(target=self._server.serve_forever, daemon=True).start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None
