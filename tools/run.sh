#!/usr/bin/env bash
# Starts the Rasa server, the action server and the handoff service on SQLite, prints the
# URLs, and stops all three on Ctrl-C. Expects `make setup train` to have run (make run does).
set -euo pipefail
cd "$(dirname "$0")/.."
mkdir -p instance logs
export HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1 TOKENIZERS_PARALLELISM=false RASA_TELEMETRY_ENABLED=false
# One PyTorch thread per Rasa process: its OpenMP threads spin while waiting, and on a shared
# 2-core machine two of them cost 10x the CPU per sentence embedding (docs/benchmarks.md, "Speed").
export OMP_NUM_THREADS=${OMP_NUM_THREADS:-1}
export ACTION_ENDPOINT_URL=${ACTION_ENDPOINT_URL:-http://127.0.0.1:5055/webhook}
export RASA_URL=${RASA_URL:-http://127.0.0.1:5005}
export DATABASE_URL=${DATABASE_URL:-sqlite:///$PWD/instance/handoff.sqlite3}
export SECRET_KEY=${SECRET_KEY:-$(cat instance/secret_key 2>/dev/null || (head -c 32 /dev/urandom | base64 | tee instance/secret_key))}
handoff_port=${HANDOFF_PORT:-8000}
export HANDOFF_BIND=${HANDOFF_BIND:-127.0.0.1:$handoff_port}

pids=()
stop() { kill "${pids[@]}" 2>/dev/null || true; wait 2>/dev/null || true; }
trap stop EXIT INT TERM

wait_for() {  # name url seconds
  for _ in $(seq "$3"); do curl -fs -o /dev/null "$2" && return 0; sleep 1; done
  echo "run: $1 did not start; see logs/" >&2; exit 1
}

.venv/bot/bin/rasa run actions --actions actions --port 5055 > logs/actions.log 2>&1 & pids+=($!)
.venv/bot/bin/rasa run --enable-api --model models/current.tar.gz --port 5005 \
  --credentials credentials.yml --endpoints endpoints.yml > logs/rasa.log 2>&1 & pids+=($!)

.venv/handoff/bin/flask --app handoff db-upgrade > logs/migrate.log 2>&1
if ! .venv/handoff/bin/flask --app handoff agents list 2>/dev/null | grep -q "@"; then
  password=$(head -c 9 /dev/urandom | base64 | tr -d '/+=')
  .venv/handoff/bin/flask --app handoff agents create --email admin@example.com --name Admin \
    --role admin --password "$password" > /dev/null
  echo "$password" > instance/admin_password
  echo "run: created the first agent: admin@example.com / $password (also in instance/admin_password)"
fi
.venv/handoff/bin/gunicorn -c handoff/gunicorn.conf.py 'handoff:create_app()' > logs/handoff.log 2>&1 & pids+=($!)

wait_for "the handoff service" "http://$HANDOFF_BIND/healthz" 60
wait_for "the action server" "http://127.0.0.1:5055/health" 120
wait_for "the Rasa server" "http://127.0.0.1:5005/status" 300
cat <<EOT

Tsunagi is running (logs in logs/; Ctrl-C stops everything):
  Demo shop with the chat widget   http://$HANDOFF_BIND/demo
  Agent console                    http://$HANDOFF_BIND/console
  KPI dashboard (admin)            http://$HANDOFF_BIND/console/dashboard
  Unanswered questions (editor)    http://$HANDOFF_BIND/console/unanswered
  Handoff service API              http://$HANDOFF_BIND/api/openapi.json
  Rasa server                      http://127.0.0.1:5005
  Action server                    http://127.0.0.1:5055
EOT
wait -n "${pids[@]}"
echo "run: a process exited; stopping the others (see logs/)" >&2
