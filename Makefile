# Tsunagi: `make run` sets up, trains and starts everything; `make test` runs every test.
SHELL := /bin/bash
PYENV_ROOT ?= $(shell pyenv root 2>/dev/null || echo $(HOME)/.pyenv)
PY310 ?= $(PYENV_ROOT)/versions/3.10.13/bin/python
PY311 ?= $(PYENV_ROOT)/versions/3.11.7/bin/python
BOT_PY := .venv/bot/bin/python
HANDOFF_PY := .venv/handoff/bin/python
export HF_HUB_OFFLINE := 1
export TRANSFORMERS_OFFLINE := 1
export TOKENIZERS_PARALLELISM := false
# No telemetry: nothing may leave the machine at run time.
export RASA_TELEMETRY_ENABLED := false

# Both held-out sets: ours, and the one written blind (data/tests/blind/README.md).
NLU ?= data/tests/nlu_test.yml data/tests/blind/nlu_blind.yml
REPORT ?= results/evaluation.json

.PHONY: setup setup-bot setup-handoff model train run test test-bot test-handoff test-browser \
        test-e2e evaluate bench-nlu bench-encoder bench-handoff bench-assist bench-help bench-metrics lock-bot lock-handoff validate publish rollback test-editors

## Environments (cached by content hash, idempotent) and the embedding model.
setup: setup-bot setup-handoff model

setup-bot:
	@tools/ensure-env.sh bot $(PY310) requirements/bot.lock

setup-handoff:
	@tools/ensure-env.sh handoff $(PY311) requirements/handoff.lock

model: setup-bot
	@tools/build-e5.sh

## Trains only when data, domain, config or components changed.
train: setup
	@tools/train.sh models/current.tar.gz

run: setup train
	@tools/run.sh

## Every test: the bot's, the handoff service's, then the browser and end-to-end tests with
## the real bot running (tools/with-bot.sh). PostgreSQL/Redis tests run when TEST_DATABASE_URL /
## TEST_REDIS_URL are set (.ci/run sets them and TSUNAGI_REQUIRE_SERVICES=1).
test: setup train
	$(BOT_PY) -m pytest -q tests/bot tests/editors/bot
	$(HANDOFF_PY) -m pytest -q tests/handoff
	$(HANDOFF_PY) -m pytest -q tests/editors/handoff
	tools/with-bot.sh $(HANDOFF_PY) -m pytest -q tests/browser tests/e2e
	$(HANDOFF_PY) -m pytest -q tests/runtime

test-bot: setup train
	$(BOT_PY) -m pytest -q tests/bot

test-handoff: setup-handoff
	$(HANDOFF_PY) -m pytest -q tests/handoff

test-browser: setup train
	tools/with-bot.sh $(HANDOFF_PY) -m pytest -q tests/browser

test-e2e: setup train
	tools/with-bot.sh $(HANDOFF_PY) -m pytest -q tests/e2e

## make evaluate [NLU="<rasa nlu yaml> ..."] [REPORT=<json>]
evaluate: train
	$(BOT_PY) -m bot.evaluate --model models/current.tar.gz --nlu $(NLU) --report $(REPORT)

bench-nlu: setup model
	$(BOT_PY) -m bench.nlu_bench

bench-encoder: setup-bot model
	$(BOT_PY) -m bench.encoder_bench

bench-handoff: setup-handoff
	$(HANDOFF_PY) bench/handoff_bench.py

# Suggested answers for agents: top-1/top-3 on both held-out sets and stored -> console latency,
# with the real bot (tools/with-bot.sh serves models/current.tar.gz).
bench-assist: setup-handoff model
	tools/with-bot.sh $(HANDOFF_PY) bench/agent_assist.py
## Help-center search on both held-out sets against SQLite FTS5 keyword baselines (bench/help_search.py;
## `--choose` picks its weights and thresholds on training data only).
bench-help: setup-handoff
	$(HANDOFF_PY) bench/help_search.py
	$(HANDOFF_PY) bench/help_pages.py   # the help center's pages against /healthz and /demo

## One /metrics scrape on 100,000 events: the old full aggregation against the counters
## (SQLite, and PostgreSQL at BENCH_DATABASE_URL).
bench-metrics: setup-handoff
	$(HANDOFF_PY) bench/metrics_bench.py

## The editors' loop (docs/editors-guide.md). make validate [MIN_EXAMPLES=10] [SIMILARITY=0.97]
## make publish [RASA_URLS=http://127.0.0.1:5005,...] [MAX_DROP=0.02]; make rollback [RASA_URLS=...]
## (RASA_URL is the one-server form; both default to make run's http://127.0.0.1:5005; bot.publish
## reads them from the environment, where make puts command-line variables)
CONTENT_CHECKS = $(if $(MIN_EXAMPLES),--min-examples $(MIN_EXAMPLES)) $(if $(SIMILARITY),--similarity $(SIMILARITY))

validate: setup-bot model
	$(BOT_PY) -m bot.validate $(CONTENT_CHECKS)

publish: setup-bot model
	$(BOT_PY) -m bot.publish publish $(CONTENT_CHECKS) $(if $(MAX_DROP),--max-drop $(MAX_DROP))
	@$(call audit_record,content.published)

rollback: setup-bot
	$(BOT_PY) -m bot.publish rollback
	@$(call audit_record,content.rolled_back)

# A publish or rollback goes into the handoff service's audit log (as cli:<OS user>, the live model as
# its target), in make run's database unless DATABASE_URL says otherwise; skipped with a note when the
# service's environment or database is not there yet.
audit_record = if [ -x $(HANDOFF_PY) ]; then DATABASE_URL=$${DATABASE_URL:-sqlite:///$${TSUNAGI_INSTANCE_DIR:-$$PWD/instance}/handoff.sqlite3} \
	$(HANDOFF_PY) -m flask --app handoff audit record $(1) --live-record $${TSUNAGI_MODELS_DIR:-models}/live.json 2>/dev/null \
	|| echo "note: $(1) not recorded in the audit log (no handoff database yet)"; fi

test-editors: setup train
	$(BOT_PY) -m pytest -q tests/editors/bot
	$(HANDOFF_PY) -m pytest -q tests/editors/handoff

## Re-resolve a lock from its .in file in one pip run (needs the registry).
lock-bot:
	tools/lock.sh bot $(PY310) requirements/bot.in requirements/bot.lock

lock-handoff:
	tools/lock.sh handoff $(PY311) requirements/handoff.in requirements/handoff.lock
