#!/usr/bin/env bash
# Starts ONE Rasa server with every flag the product needs, in the foreground (exec: its pid is
# this script's; SIGINT stops it). Used by make run's supervisor, tools/with-bot.sh and the tests.
# usage: tools/rasa-server.sh PORT [MODEL]
#   MODEL: the given file, else the published one (models/live.json, make publish), else
#   models/current.tar.gz. TSUNAGI_MODELS_DIR (default models) is where live.json is read.
# Environment (docs/configuration.md): RASA_BIND_HOST (127.0.0.1), RASA_JWT_SECRET (else
# instance/rasa_jwt_secret), ACTION_ENDPOINT_URL, ACTION_SERVER_TOKEN (else
# instance/action_server_token), TRACKER_STORE_URL (else DATABASE_URL, else the handoff
# service's SQLite file instance/handoff.sqlite3), REDIS_URL (Rasa's lock store when set).
set -euo pipefail
cd "$(dirname "$0")/.."
port=${1:?usage: tools/rasa-server.sh PORT [MODEL]}
model=${2:-}
export HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1 TOKENIZERS_PARALLELISM=false RASA_TELEMETRY_ENABLED=false
# One OpenMP thread for the numeric libraries per Rasa process (the sentence encoder runs on ONNX
# Runtime with its own `threads: 1`, config.yml): OpenMP threads spin while waiting, and on a
# shared 2-core machine two of them cost 10x the CPU per sentence embedding when the encoder ran
# on PyTorch (docs/benchmarks.md, "Speed").
export OMP_NUM_THREADS=${OMP_NUM_THREADS:-1}

secret() {  # VARIABLE FILE: the variable's value, else the file's (make run writes it)
  local value=${!1:-}
  if [ -z "$value" ] && [ -s "$2" ]; then value=$(cat "$2"); fi
  if [ -z "$value" ]; then
    echo "rasa-server: $1 is empty and $2 does not exist (make run generates it)" >&2; exit 2
  fi
  printf %s "$value"
}
RASA_JWT_SECRET=$(secret RASA_JWT_SECRET instance/rasa_jwt_secret)
ACTION_SERVER_TOKEN=$(secret ACTION_SERVER_TOKEN instance/action_server_token)
export RASA_JWT_SECRET ACTION_SERVER_TOKEN
export ACTION_ENDPOINT_URL=${ACTION_ENDPOINT_URL:-http://127.0.0.1:5055/webhook}
export TRACKER_STORE_URL=${TRACKER_STORE_URL:-${DATABASE_URL:-sqlite:///$PWD/instance/handoff.sqlite3}}
mkdir -p instance

if [ -z "$model" ]; then
  model=$(.venv/bot/bin/python -m bot.publish live-path --models-dir "${TSUNAGI_MODELS_DIR:-models}")
fi
[ -f "$model" ] || { echo "rasa-server: no model at $model (make train, or make publish)" >&2; exit 2; }
echo "rasa-server: serving $model on ${RASA_BIND_HOST:-127.0.0.1}:$port" >&2

# The JWT secret goes to Rasa through its own argument parser inside the process, so it never
# shows in `ps` as `--jwt-secret <secret>` would.
exec .venv/bot/bin/python -c '
import os, sys
from rasa.__main__ import main
sys.argv = ["rasa", *sys.argv[1:], "--jwt-secret", os.environ["RASA_JWT_SECRET"], "--jwt-method", "HS256"]
main()
' run --enable-api --interface "${RASA_BIND_HOST:-127.0.0.1}" --port "$port" --model "$model" \
  --credentials credentials.yml --endpoints endpoints.yml
