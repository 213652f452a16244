#!/usr/bin/env bash
# Runs a command with the real bot up: the action server and the Rasa server (trained model,
# gateway channel, JWT) on free ports, started by tools/action-server.sh and tools/rasa-server.sh,
# their conversations in a SQLite file of their own. TSUNAGI_E2E_RASA_URL tells the tests where;
# RASA_JWT_SECRET (generated here unless set) is exported so the tests' handoff service can sign
# its calls; ORDER_API_URL and ORDER_API_TOKEN (a free port and a token, unless set) tell the
# action server and the tests where the shop's order API stand-in is to be. Stops both after.
# usage: tools/with-bot.sh COMMAND...
set -euo pipefail
cd "$(dirname "$0")/.."
port() { .venv/bot/bin/python -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
actions_port=$(port); rasa_port=$(port)
logs=$(mktemp -d)
export RASA_JWT_SECRET=${RASA_JWT_SECRET:-$(head -c 32 /dev/urandom | base64)}
export ACTION_SERVER_TOKEN=${ACTION_SERVER_TOKEN:-$(head -c 32 /dev/urandom | base64)}
export ACTION_ENDPOINT_URL=http://127.0.0.1:$actions_port/webhook
# The shop's order API the action server asks (docs/order-api.md): the tests serve a stand-in at
# this address with this token (tests/support/order_api_stand_in.py, tests/e2e/test_order_status.py).
export ORDER_API_URL=${ORDER_API_URL:-http://127.0.0.1:$(port)/shop-api}
export ORDER_API_TOKEN=${ORDER_API_TOKEN:-$(head -c 32 /dev/urandom | base64)}
TRACKER_STORE_URL=sqlite:///$logs/bot.sqlite3 REDIS_URL= \
  tools/rasa-server.sh "$rasa_port" models/current.tar.gz > "$logs/rasa.log" 2>&1 &
rasa_pid=$!
SUPPORT_HOURS=${BOT_SUPPORT_HOURS:-always} tools/action-server.sh "$actions_port" > "$logs/actions.log" 2>&1 &
actions_pid=$!
# Rasa stops on SIGINT (Ctrl-C); SIGTERM may leave it running.
trap 'kill -INT $actions_pid $rasa_pid 2>/dev/null; wait 2>/dev/null; rm -rf "$logs"' EXIT
for _ in $(seq 300); do
  curl -fs -o /dev/null "http://127.0.0.1:$rasa_port/version" && curl -fs -o /dev/null "http://127.0.0.1:$actions_port/health" && break
  if ! kill -0 $rasa_pid 2>/dev/null || ! kill -0 $actions_pid 2>/dev/null; then
    echo "with-bot: the bot did not start:"; tail -30 "$logs"/*.log; exit 1
  fi
  sleep 1
done
curl -fs -o /dev/null "http://127.0.0.1:$rasa_port/version" || { echo "with-bot: Rasa did not start in 300 s"; tail -30 "$logs/rasa.log"; exit 1; }
export TSUNAGI_E2E_RASA_URL=http://127.0.0.1:$rasa_port
"$@"
