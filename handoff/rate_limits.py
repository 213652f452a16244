"""Fixed-window rate limits, counted in Redis when there is one (shared by all processes)."""
from __future__ import annotations

import math
import threading
import time
from typing import Optional

from .config import parse_rate
from .errors import RateLimited


class MemoryCounter:
    def __init__(self):
        self._lock = threading.Lock()
        self._counts: dict[str, tuple[int, float]] = {}

    def hit(self, key: str, window: int, now: float) -> int:
        with self._lock:
            if len(self._counts) > 100_000:  # forget finished windows instead of growing forever
                self._counts = {k: v for k, v in self._counts.items() if v[1] > now}
            count, expires = self._counts.get(key, (0, 0.0))
            if expires <= now:
                count, expires = 0, now + window
            self._counts[key] = (count + 1, expires)
            return count + 1


class RedisCounter:
    def __init__(self, broker):
        self.broker = broker

    def hit(self, key: str, window: int, now: float) -> int:
        pipe = self.broker.client.pipeline()
        pipe.incr(key)
        pipe.expire(key, window + 1)
        count, _ = pipe.execute()
        return int(count)


class RateLimiter:
    def __init__(self, counter, prefix: str = "tsunagi:"):
        self.counter = counter
        self.prefix = prefix

    def check(self, scope: str, key: str, rate: str, now: Optional[float] = None) -> None:
        """Count one hit; raise RateLimited (429 with Retry-After) past the limit."""
        limit, window = parse_rate(rate)
        now = time.time() if now is None else now
        window_start = math.floor(now / window) * window
        count = self.counter.hit(f"{self.prefix}rl:{scope}:{key}:{int(window_start)}", window, now)
        if count > limit:
            raise RateLimited(max(1, math.ceil(window_start + window - now)))
