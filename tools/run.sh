#!/usr/bin/env bash
# make run: the action server, the Rasa server and the handoff service under supervisord
# (tools/supervisord.conf), which restarts whichever crashes while the others keep answering.
# Prints the URLs; Ctrl-C stops everything. Expects `make setup train` to have run (make run does).
# The Rasa server serves the published model (models/live.json); on a machine where nothing was
# published yet, the trained model is published first, through make publish's checks.
set -euo pipefail
cd "$(dirname "$0")/.."
export TSUNAGI_ROOT=$PWD
export HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1 TOKENIZERS_PARALLELISM=false RASA_TELEMETRY_ENABLED=false
export OMP_NUM_THREADS=${OMP_NUM_THREADS:-1}
# Where this run keeps its files; the tests point them at a temporary folder.
instance=${TSUNAGI_INSTANCE_DIR:-$PWD/instance}
export TSUNAGI_LOG_DIR=${TSUNAGI_LOG_DIR:-$PWD/logs}
export TSUNAGI_RUN_DIR=${TSUNAGI_RUN_DIR:-$instance/run}
export TSUNAGI_MODELS_DIR=${TSUNAGI_MODELS_DIR:-$PWD/models}
mkdir -p "$instance" "$TSUNAGI_LOG_DIR" "$TSUNAGI_RUN_DIR"

secret() {  # FILE: its content, generated (32 random bytes) the first time
  if [ ! -s "$1" ]; then (umask 077; head -c 32 /dev/urandom | base64 > "$1"); fi
  cat "$1"
}
export SECRET_KEY=${SECRET_KEY:-$(secret "$instance/secret_key")}
export RASA_JWT_SECRET=${RASA_JWT_SECRET:-$(secret "$instance/rasa_jwt_secret")}
export ACTION_SERVER_TOKEN=${ACTION_SERVER_TOKEN:-$(secret "$instance/action_server_token")}
# Shared with the shop's server, which signs its signed-in customer's id with it (docs/identity.md).
export IDENTITY_SECRET=${IDENTITY_SECRET:-$(secret "$instance/identity_secret")}

handoff_port=${HANDOFF_PORT:-8000}
export RASA_PORT=${RASA_PORT:-5005} ACTION_SERVER_PORT=${ACTION_SERVER_PORT:-5055}
export HANDOFF_BIND=${HANDOFF_BIND:-127.0.0.1:$handoff_port}
rasa_host=${RASA_BIND_HOST:-127.0.0.1}; actions_host=${ACTION_SERVER_BIND_HOST:-127.0.0.1}
[ "$rasa_host" = 0.0.0.0 ] && rasa_host=127.0.0.1
[ "$actions_host" = 0.0.0.0 ] && actions_host=127.0.0.1
export ACTION_ENDPOINT_URL=${ACTION_ENDPOINT_URL:-http://$actions_host:$ACTION_SERVER_PORT/webhook}
export RASA_URL=${RASA_URL:-http://$rasa_host:$RASA_PORT}
# The shop's order API the bot asks about a verified customer's order (docs/order-api.md): unless
# ORDER_API_URL names a real shop's, the demo shop's (handoff/demo_orders.py) with its own token.
export DEMO_ORDER_API_TOKEN=${DEMO_ORDER_API_TOKEN:-$(secret "$instance/demo_order_api_token")}
if [ -z "${ORDER_API_URL:-}" ]; then
  export ORDER_API_URL=http://${HANDOFF_BIND/#0.0.0.0:/127.0.0.1:}/demo/api ORDER_API_TOKEN=$DEMO_ORDER_API_TOKEN
fi
export DATABASE_URL=${DATABASE_URL:-sqlite:///$instance/handoff.sqlite3}
export TRACKER_STORE_URL=${TRACKER_STORE_URL:-$DATABASE_URL}

# The published model, or on a fresh machine the trained one, published through the same checks.
live=$TSUNAGI_MODELS_DIR/live.json
if [ ! -f "$live" ]; then
  echo "run: no model has been published yet: publishing the trained model (validate, evaluate)"
  .venv/bot/bin/python -m bot.publish first --models-dir "$TSUNAGI_MODELS_DIR" \
    || { echo "run: the trained model did not pass make publish's checks; see above" >&2; exit 1; }
fi
served=$(.venv/bot/bin/python -m bot.publish live-path --models-dir "$TSUNAGI_MODELS_DIR")
if [ -f "$TSUNAGI_MODELS_DIR/current.tar.gz" ] && ! cmp -s "$TSUNAGI_MODELS_DIR/current.tar.gz" "$served"; then
  echo "run: the content changed since the last publish; serving the published model ($served)."
  echo "run: \`make publish\` checks the new content and puts it live."
fi

.venv/handoff/bin/flask --app handoff db-upgrade > "$TSUNAGI_LOG_DIR/migrate.log" 2>&1 \
  || { echo "run: the database migration failed; see $TSUNAGI_LOG_DIR/migrate.log" >&2; exit 1; }
if ! .venv/handoff/bin/flask --app handoff agents list 2>/dev/null | grep -q "@"; then
  password=$(head -c 9 /dev/urandom | base64 | tr -d '/+=')
  .venv/handoff/bin/flask --app handoff agents create --email admin@example.com --name Admin \
    --role admin --password "$password" > /dev/null
  (umask 077; echo "$password" > "$instance/admin_password")
  echo "run: created the first agent: admin@example.com / $password (also in $instance/admin_password)"
fi

.venv/handoff/bin/supervisord -c tools/supervisord.conf &
supervisor=$!
# Ctrl-C reaches supervisord too (same process group); another signal to this script is passed
# on. supervisord stops every program (SIGINT to Rasa and the action server, SIGTERM to gunicorn).
stop() { trap - INT TERM; kill -TERM "$supervisor" 2>/dev/null || true; wait "$supervisor" 2>/dev/null || true; exit 0; }
trap stop INT TERM

wait_for() {  # name url seconds
  for _ in $(seq "$3"); do
    curl -fs -o /dev/null "$2" && return 0
    kill -0 "$supervisor" 2>/dev/null || { echo "run: supervisord stopped; see $TSUNAGI_LOG_DIR/" >&2; exit 1; }
    sleep 1
  done
  echo "run: $1 did not start in $3 s (supervisord keeps trying); see $TSUNAGI_LOG_DIR/$4.log" >&2
}
wait_for "the handoff service" "http://$HANDOFF_BIND/healthz" 60 handoff
wait_for "the action server" "http://$actions_host:$ACTION_SERVER_PORT/health" 120 actions
wait_for "the Rasa server" "$RASA_URL/version" 300 rasa
cat <<EOT

Tsunagi is running (logs in $TSUNAGI_LOG_DIR; a crashed process is restarted; Ctrl-C stops everything):
  Demo shop with the chat widget   http://$HANDOFF_BIND/demo
  Help center                      http://$HANDOFF_BIND/help  (English: /en/help)
  Agent console                    http://$HANDOFF_BIND/console
  KPI dashboard (admin)            http://$HANDOFF_BIND/console/dashboard
  Unanswered questions (editor)    http://$HANDOFF_BIND/console/unanswered
  Handoff service API              http://$HANDOFF_BIND/api/openapi.json
  Rasa server (JWT required)       $RASA_URL
  Action server (token required)   http://$actions_host:$ACTION_SERVER_PORT
  Model served                     $served
EOT
wait "$supervisor" || true
