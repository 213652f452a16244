"""Live fan-out of events to the open streams of this process, and across processes via Redis.

Streams subscribe to channels on the local Hub. Without Redis a publish goes straight to the
Hub; with Redis it goes to Redis, and one listener per process feeds what Redis delivers into
its Hub, so every process (including the publisher's) sees each event exactly once.

While Redis is down a publish is delivered to this process's own streams (nothing is lost for
them; the events are stored, so the others catch up), the process stops asking Redis for
REDIS_RETRY_SECONDS after each failure, and the listener reconnects with backoff; once it is
subscribed again every stream gets RESYNC and re-reads what it may have missed.
"""
from __future__ import annotations

import json
import logging
import os
import queue
import threading
import time
from collections import defaultdict
from typing import Iterable

log = logging.getLogger(__name__)

# A marker delivered to every subscription when events may have been missed (Redis reconnect):
# streams then re-read the persisted events they may lack.
RESYNC = "__resync__"


class Subscription:
    def __init__(self, hub: "Hub", channels: Iterable[str], size: int = 2000):
        self.hub = hub
        self.channels = tuple(channels)
        self.queue: queue.Queue = queue.Queue(maxsize=size)
        self.overflowed = False

    def offer(self, channel: str, payload: dict) -> None:
        try:
            self.queue.put_nowait((channel, payload))
        except queue.Full:
            # A client this far behind is closed; it reconnects with Last-Event-ID and replays.
            self.overflowed = True

    def get(self, timeout: float):
        """(channel, payload), or None when nothing came within the timeout."""
        try:
            return self.queue.get(timeout=timeout)
        except queue.Empty:
            return None

    def close(self) -> None:
        self.hub.unsubscribe(self)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


class Hub:
    def __init__(self):
        self._lock = threading.Lock()
        self._subscriptions: dict[str, set[Subscription]] = defaultdict(set)

    def subscribe(self, channels: Iterable[str]) -> Subscription:
        subscription = Subscription(self, channels)
        with self._lock:
            for channel in subscription.channels:
                self._subscriptions[channel].add(subscription)
        return subscription

    def unsubscribe(self, subscription: Subscription) -> None:
        with self._lock:
            for channel in subscription.channels:
                subscribers = self._subscriptions.get(channel)
                if subscribers is not None:
                    subscribers.discard(subscription)
                    if not subscribers:
                        del self._subscriptions[channel]

    def deliver(self, channel: str, payload: dict) -> None:
        with self._lock:
            subscribers = list(self._subscriptions.get(channel, ()))
        for subscription in subscribers:
            subscription.offer(channel, payload)

    def deliver_everywhere(self, payload: dict) -> None:
        with self._lock:
            subscribers = {s for subs in self._subscriptions.values() for s in subs}
        for subscription in subscribers:
            subscription.offer(RESYNC, payload)

    @property
    def open_subscriptions(self) -> int:
        with self._lock:
            return len({s for subs in self._subscriptions.values() for s in subs})


class InProcessBroker:
    """One process: publishing is delivering."""

    def __init__(self):
        self.hub = Hub()

    def publish(self, channel: str, payload: dict) -> None:
        self.hub.deliver(channel, payload)

    def subscribe(self, channels: Iterable[str]) -> Subscription:
        return self.hub.subscribe(channels)

    def ping(self) -> bool:
        return True


class RedisBroker:
    """Several processes: everything goes through Redis pub/sub under one prefix."""

    def __init__(self, url: str, prefix: str, timeout: float = 2.0, retry_seconds: float = 5.0):
        self.url = url
        self.prefix = prefix
        self.timeout = timeout
        self.retry_seconds = retry_seconds
        self.hub = Hub()
        self._pid = None
        self._client = None
        self._listening = threading.Event()
        self._start_lock = threading.Lock()
        self._down_until = 0.0

    @property
    def usable(self) -> bool:
        """False for REDIS_RETRY_SECONDS after a failure: callers use their in-process fallback."""
        return time.monotonic() >= self._down_until

    def failed(self, error: Exception) -> None:
        if self.usable:
            log.warning("redis unavailable (%s); in-process fallback for %g s", error, self.retry_seconds)
        self._down_until = time.monotonic() + self.retry_seconds

    @property
    def client(self):
        # Created per process: a connection inherited across gunicorn's fork is shared and corrupt.
        if self._pid != os.getpid():
            import redis

            self._client = redis.Redis.from_url(self.url, socket_timeout=self.timeout,
                                                socket_connect_timeout=self.timeout, retry=_no_retries())
            self._pid = os.getpid()
            self._listening = threading.Event()
        return self._client

    def publish(self, channel: str, payload: dict) -> None:
        if self.usable:
            try:
                self.client.publish(self.prefix + channel, json.dumps(payload, ensure_ascii=False))
                return
            except Exception as error:  # redis.RedisError or a socket error: Redis is gone
                self.failed(error)
        # Redis down: this process's own streams still get the event (the others resync later).
        self.hub.deliver(channel, payload)

    def subscribe(self, channels: Iterable[str]) -> Subscription:
        self._ensure_listener()
        return self.hub.subscribe(channels)

    def ping(self) -> bool:
        try:
            alive = bool(self.client.ping())
        except Exception as error:
            self.failed(error)
            return False
        if alive:
            self._down_until = 0.0
        return alive

    def _ensure_listener(self) -> None:
        self.client  # noqa: B018 - resets the state after a fork
        if self._listening.is_set():
            return
        with self._start_lock:
            if not getattr(self, "_listener_pid", None) == os.getpid():
                self._listener_pid = os.getpid()
                threading.Thread(target=self._listen, name="tsunagi-redis-listener", daemon=True).start()
        # Until Redis confirms the subscription, events could slip past a new stream unseen
        # (not worth waiting for while Redis is known to be down: the stream resyncs later).
        if self.usable:
            self._listening.wait(timeout=5)

    def _listen(self) -> None:
        import redis

        delay = 0.1
        first = True
        while True:
            pubsub = None
            try:
                connection = redis.Redis.from_url(self.url, socket_connect_timeout=self.timeout,
                                                  health_check_interval=30, retry=_no_retries())
                pubsub = connection.pubsub(ignore_subscribe_messages=False)
                pubsub.psubscribe(self.prefix + "*")
                for item in pubsub.listen():
                    if item["type"] == "psubscribe":
                        self._listening.set()
                        if not first:
                            log.info("redis listener: subscribed again; streams resync")
                            self._down_until = 0.0
                            self.hub.deliver_everywhere({"reason": "redis reconnected"})
                        first = False
                        delay = 0.1
                        continue
                    if item["type"] != "pmessage":
                        continue
                    channel = item["channel"].decode()[len(self.prefix):]
                    self.hub.deliver(channel, json.loads(item["data"]))
            except Exception as error:
                first = False  # whatever was published meanwhile never reached this process
                log.warning("redis listener: %s; reconnecting in %.1f s", error, delay)
            finally:
                if pubsub is not None:
                    try:
                        pubsub.close()
                    except Exception:
                        pass
            time.sleep(delay)
            delay = min(delay * 2, 5.0)


def _no_retries():
    """redis-py retries a failed command ten times with backoff (seconds, on every request while
    Redis is down); we fail at once and fall back instead, and the listener reconnects itself."""
    from redis.backoff import NoBackoff
    from redis.retry import Retry

    return Retry(NoBackoff(), 0)


def make_broker(redis_url: str, prefix: str, timeout: float = 2.0, retry_seconds: float = 5.0):
    return RedisBroker(redis_url, prefix, timeout, retry_seconds) if redis_url else InProcessBroker()
