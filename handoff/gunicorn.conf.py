"""gunicorn settings for the handoff service: gevent workers, so one process holds hundreds of
open streams (each is a greenlet waiting on a queue, not a thread).

    gunicorn -c handoff/gunicorn.conf.py 'handoff:create_app()'

Settings that would break with several processes or hosts (handoff/config.py, deployment_refusal)
stop the master before any worker starts: "Error: <why>" and exit status 1.
"""
import os

bind = os.environ.get("HANDOFF_BIND", "127.0.0.1:8000")
# Live events only cross processes through Redis: without REDIS_URL, one process is the safe default
# (and more is refused, in on_starting).
workers = int(os.environ.get("WEB_CONCURRENCY") or (2 if os.environ.get("REDIS_URL") else 1))
worker_class = "gevent"
worker_connections = int(os.environ.get("WORKER_CONNECTIONS", "2000"))
timeout = 30
graceful_timeout = 5
keepalive = 5
accesslog = os.environ.get("HANDOFF_ACCESS_LOG") or None
# gunicorn's default format logs the request line with its query string; ours logs the path only
# (%(U)s), so no query parameter (a stream ticket, a search) ever reaches the access log.
access_log_format = '%(h)s %(l)s %(u)s %(t)s "%(m)s %(U)s %(H)s" %(s)s %(b)s "%(f)s" "%(a)s" %(M)sms'


def on_starting(server):
    from handoff.config import deployment_refusal, from_environment

    refusal = deployment_refusal(from_environment(), server.cfg.workers)
    if refusal:
        raise RuntimeError(refusal)  # gunicorn prints "Error: ..." and exits with status 1
