"""The action server, open only to the Rasa server: rasa_sdk's app behind a bearer token.

rasa_sdk checks no credentials at all, so this wraps its `create_app` with a request middleware:
every route but `/health` needs `Authorization: Bearer $ACTION_SERVER_TOKEN`, which the Rasa
server sends from endpoints.yml (`action_endpoint.headers`); anything else gets a 401.
It binds `ACTION_SERVER_BIND_HOST` (default 127.0.0.1), so by default only this host can call it.

usage: ACTION_SERVER_TOKEN=... python -m actions.server --port 5055   (tools/action-server.sh)
"""
from __future__ import annotations

import argparse
import hmac
import logging
import os
import sys
from typing import Optional

from sanic import Sanic, response
from sanic.request import Request
from sanic.response import HTTPResponse

logger = logging.getLogger(__name__)

DEFAULT_PORT = 5055
DEFAULT_BIND_HOST = "127.0.0.1"
# Liveness only ({"status": "ok"}): supervisors and scripts probe it without the token.
OPEN_PATHS = frozenset({"/health"})


def create_app(token: str, action_package: str = "actions") -> Sanic:
    """rasa_sdk's action server app, refusing every call without the token."""
    from rasa_sdk.endpoint import create_app as create_sdk_app

    if not token:
        raise ValueError("the action server needs a token (ACTION_SERVER_TOKEN)")
    # No CORS: the only caller is the Rasa server, never a browser.
    app = create_sdk_app(action_package, cors_origins=None)
    expected = f"Bearer {token}".encode()

    @app.middleware("request")
    async def require_token(request: Request) -> Optional[HTTPResponse]:
        if request.path in OPEN_PATHS:
            return None
        provided = (request.headers.get("authorization") or "").encode()
        if hmac.compare_digest(provided, expected):
            return None
        return response.json(
            {"error": {"code": "unauthorized",
                       "message": "the action server takes calls from the Rasa server only "
                                  "('Authorization: Bearer <ACTION_SERVER_TOKEN>')"}},
            status=401, headers={"WWW-Authenticate": "Bearer"})

    return app


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--port", type=int, default=int(os.environ.get("ACTION_SERVER_PORT") or DEFAULT_PORT))
    parser.add_argument("--actions", default="actions", help="the package holding the actions")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    token = os.environ.get("ACTION_SERVER_TOKEN", "").strip()
    if not token:
        print("action server: ACTION_SERVER_TOKEN is empty; refusing to start an open action server "
              "(make run generates one into instance/action_server_token)", file=sys.stderr)
        return 2
    host = os.environ.get("ACTION_SERVER_BIND_HOST", "").strip() or DEFAULT_BIND_HOST
    app = create_app(token, args.actions)
    logger.info("Action server on http://%s:%s (token required)", host, args.port)
    app.run(host=host, port=args.port, workers=1, access_log=False)
    return 0


if __name__ == "__main__":
    sys.exit(main())
