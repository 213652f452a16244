"""Rate limits: at most N hits per window, the window starting at a key's first hit, counted in
Redis when there is one (shared by all processes). Windows aligned to the clock would let
2N hits through around a boundary (N at 11:59:59, N more at 12:00:00).

While Redis is down each process counts on its own (a client may then get up to N hits per
process), and goes back to Redis once it answers again: a limit never turns into a 500."""
from __future__ import annotations

import logging
import math
import threading
import time
from typing import Optional

from .config import parse_rate
from .errors import RateLimited

log = logging.getLogger(__name__)


class MemoryCounter:
    def __init__(self):
        self._lock = threading.Lock()
        self._counts: dict[str, tuple[int, float]] = {}

    def hit(self, key: str, window: int, now: float) -> tuple[int, float]:
        """(hits in the key's current window, seconds until it ends)."""
        with self._lock:
            if len(self._counts) > 100_000:  # forget finished windows instead of growing forever
                self._counts = {k: v for k, v in self._counts.items() if v[1] > now}
            count, expires = self._counts.get(key, (0, 0.0))
            if expires <= now:
                count, expires = 0, now + window
            self._counts[key] = (count + 1, expires)
            return count + 1, expires - now


class RedisCounter:
    def __init__(self, broker, fallback: Optional[MemoryCounter] = None):
        self.broker = broker
        self.fallback = fallback if fallback is not None else MemoryCounter()  # counts while Redis is down

    def hit(self, key: str, window: int, now: float) -> tuple[int, float]:
        if self.broker.usable:
            try:
                return self._hit(key, window)
            except Exception as error:  # redis.RedisError or a socket error: Redis is gone
                self.broker.failed(error)
        return self.fallback.hit(key, window, now)

    def _hit(self, key: str, window: int) -> tuple[int, float]:
        pipe = self.broker.client.pipeline()
        pipe.incr(key)
        pipe.pttl(key)
        count, ttl_ms = pipe.execute()
        if ttl_ms < 0:  # the first hit (or a key left without expiry): the window starts now
            self.broker.client.pexpire(key, window * 1000)
            ttl_ms = window * 1000
        return int(count), ttl_ms / 1000


class RateLimiter:
    def __init__(self, counter, prefix: str = "tsunagi:"):
        self.counter = counter
        self.prefix = prefix

    def check(self, scope: str, key: str, rate: str, now: Optional[float] = None) -> None:
        """Count one hit; raise RateLimited (429 with Retry-After) past the limit."""
        limit, window = parse_rate(rate)
        now = time.time() if now is None else now
        count, remaining = self.counter.hit(f"{self.prefix}rl:{scope}:{key}", window, now)
        if count > limit:
            raise RateLimited(max(1, math.ceil(remaining)))
