#!/usr/bin/env bash
# Starts the action server (actions/server.py: rasa_sdk behind a bearer token) in the foreground.
# usage: tools/action-server.sh PORT
# Environment: ACTION_SERVER_TOKEN (else instance/action_server_token; required),
# ACTION_SERVER_BIND_HOST (default 127.0.0.1), SUPPORT_HOURS and the other actions' settings.
set -euo pipefail
cd "$(dirname "$0")/.."
port=${1:?usage: tools/action-server.sh PORT}
if [ -z "${ACTION_SERVER_TOKEN:-}" ] && [ -s instance/action_server_token ]; then
  ACTION_SERVER_TOKEN=$(cat instance/action_server_token)
fi
if [ -z "${ACTION_SERVER_TOKEN:-}" ]; then
  echo "action-server: ACTION_SERVER_TOKEN is empty and instance/action_server_token does not exist (make run generates it)" >&2
  exit 2
fi
export ACTION_SERVER_TOKEN
exec .venv/bot/bin/python -m actions.server --port "$port"
