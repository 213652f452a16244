#!/usr/bin/env bash
# Runs a command with the real bot up: the action server and the Rasa server (trained model,
# gateway channel) on free ports; TSUNAGI_E2E_RASA_URL tells the tests where. Stops both after.
# usage: tools/with-bot.sh COMMAND...
set -euo pipefail
cd "$(dirname "$0")/.."
export HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1 TOKENIZERS_PARALLELISM=false RASA_TELEMETRY_ENABLED=false
# One PyTorch thread per Rasa process: its OpenMP threads spin while waiting, and on a shared
# 2-core machine two of them cost 10x the CPU per sentence embedding (docs/benchmarks.md, "Speed").
export OMP_NUM_THREADS=${OMP_NUM_THREADS:-1}
port() { .venv/bot/bin/python -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
actions_port=$(port); rasa_port=$(port)
logs=$(mktemp -d)
export ACTION_ENDPOINT_URL=http://127.0.0.1:$actions_port/webhook
SUPPORT_HOURS=${BOT_SUPPORT_HOURS:-always} .venv/bot/bin/rasa run actions --actions actions --port "$actions_port" > "$logs/actions.log" 2>&1 &
actions_pid=$!
.venv/bot/bin/rasa run --enable-api --model models/current.tar.gz --port "$rasa_port" \
  --credentials credentials.yml --endpoints endpoints.yml > "$logs/rasa.log" 2>&1 &
rasa_pid=$!
trap 'kill $actions_pid $rasa_pid 2>/dev/null; wait 2>/dev/null; rm -rf "$logs"' EXIT
for _ in $(seq 300); do
  curl -fs -o /dev/null "http://127.0.0.1:$rasa_port/status" && curl -fs -o /dev/null "http://127.0.0.1:$actions_port/health" && break
  if ! kill -0 $rasa_pid 2>/dev/null || ! kill -0 $actions_pid 2>/dev/null; then
    echo "with-bot: the bot did not start:"; tail -30 "$logs"/*.log; exit 1
  fi
  sleep 1
done
curl -fs -o /dev/null "http://127.0.0.1:$rasa_port/status" || { echo "with-bot: Rasa did not start in 300 s"; tail -30 "$logs/rasa.log"; exit 1; }
export TSUNAGI_E2E_RASA_URL=http://127.0.0.1:$rasa_port
"$@"
