"""Reads Server-Sent Events from a streaming response (test client or requests), chunk by chunk."""
from __future__ import annotations

import json
import queue
import threading
from typing import Iterable


def parse_events(chunks: Iterable[bytes]):
    """Yields {'id', 'event', 'data'} dicts; comments (heartbeats) yield {'event': 'heartbeat'}."""
    buffer = ""
    for chunk in chunks:
        buffer += chunk.decode() if isinstance(chunk, bytes) else chunk
        while "\n\n" in buffer:
            block, buffer = buffer.split("\n\n", 1)
            event = {"id": None, "event": "message", "data": None}
            for line in block.split("\n"):
                if line.startswith(":"):
                    event["event"] = "heartbeat"
                elif line.startswith("id: "):
                    event["id"] = int(line[4:])
                elif line.startswith("event: "):
                    event["event"] = line[7:]
                elif line.startswith("data: "):
                    event["data"] = json.loads(line[6:])
                elif line.startswith("retry: "):
                    event["event"] = "retry"
            yield event


class BackgroundReader:
    """Consumes a stream on a thread so the test can act meanwhile and wait for what arrives."""

    def __init__(self, chunks: Iterable[bytes]):
        self.events: queue.Queue = queue.Queue()
        self.ready = threading.Event()
        self._stop = threading.Event()
        self._chunks = chunks
        self._thread = threading.Thread(target=self._run, args=(chunks,), daemon=True)
        self._thread.start()

    def _until_stopped(self, chunks):
        for chunk in chunks:
            yield chunk
            if self._stop.is_set():
                return

    def close(self, timeout: float = 5.0) -> None:
        """Stop reading; the stream is closed from the reading thread at its next chunk (heartbeat)."""
        self._stop.set()
        self._thread.join(timeout)

    def _run(self, chunks):
        try:
            for event in parse_events(self._until_stopped(chunks)):
                if event["event"] == "retry":
                    self.ready.set()  # the stream has subscribed
                    continue
                if event["event"] != "heartbeat":
                    self.events.put(event)
        except Exception as error:  # closed under us: the test decides whether that matters
            self.events.put({"event": "closed", "data": repr(error), "id": None})
        finally:
            close = getattr(chunks, "close", None)
            if close is not None:
                close()
        self.ready.set()

    def next(self, timeout: float = 5.0, kind: str | None = None) -> dict:
        while True:
            event = self.events.get(timeout=timeout)
            if kind is None or event["event"] == kind:
                return event

    def until(self, predicate, timeout: float = 5.0) -> dict:
        while True:
            event = self.events.get(timeout=timeout)
            if predicate(event):
                return event
