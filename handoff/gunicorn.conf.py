"""gunicorn settings for the handoff service: gevent workers, so one process holds hundreds of
open streams (each is a greenlet waiting on a queue, not a thread).

    gunicorn -c handoff/gunicorn.conf.py 'handoff:create_app()'
"""
import os

bind = os.environ.get("HANDOFF_BIND", "127.0.0.1:8000")
# Live events only cross processes through Redis: without REDIS_URL, one process is the safe default.
workers = int(os.environ.get("WEB_CONCURRENCY") or (2 if os.environ.get("REDIS_URL") else 1))
worker_class = "gevent"
worker_connections = int(os.environ.get("WORKER_CONNECTIONS", "2000"))
timeout = 30
graceful_timeout = 5
keepalive = 5
accesslog = os.environ.get("HANDOFF_ACCESS_LOG") or None
