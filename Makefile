# Set-up, tests and the demo. `make test` on a fresh clone installs everything it needs.
SHELL := /bin/bash
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
# The CPU build of torch. A GPU user installs their own torch into $(VENV) first; it is then kept.
TORCH ?= torch==2.13.0
# Multi30k and Tatoeba are read from these folders when they exist (no network needed); Multi30k is
# downloaded otherwise, and Tatoeba needs a folder holding deu-eng.tsv.gz (see data/README.md).
MIRROR ?= $(wildcard ../shared/data/multi30k)
TATOEBA_MIRROR ?= $(wildcard ../shared/data/tatoeba)
DEMO_MINUTES ?= 10
# the general model: everyday sentences (Tatoeba) and captions (Multi30k) in one training.
# CONFIG=configs/multi30k-de-en-attention.yaml for the caption-only model, configs/multi30k-de-en-small.yaml
# for the reversed-input LSTM without attention of the seed
CONFIG ?= configs/general-de-en.yaml
DEMO_RUN ?= runs/demo
# what the demo translates and scores: Multi30k's test2016 (captions) and the Tatoeba test (everyday)
DEMO_TESTS := data/multi30k/test2016 data/tatoeba-de-en/test

.PHONY: install test lint docs demo bench clean-demo web web-demo

install: $(VENV)/.installed

$(VENV)/.installed: pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -c "import torch" 2>/dev/null || $(BIN)/pip install -q $(TORCH)
	$(BIN)/pip install -q -e ".[full,documents,test,docs]"
	touch $@

# The browser runtime `nmt export --web` copies into web folders (nmt/web/runtime): ONNX Runtime Web and
# sentencepiece in WebAssembly, the exact versions and hashes web/package-lock.json pins, from npm.
WEB_RUNTIME := nmt/web/runtime/runtime.json
web: $(WEB_RUNTIME)

$(WEB_RUNTIME): web/package.json web/package-lock.json nmt/web/pack.py nmt/web/assets.py | install
	@command -v npm >/dev/null || { echo "npm not found (apt-get install -y npm): no web folders, their test is skipped"; exit 0; }; \
	cd web && npm ci --ignore-scripts --no-audit --no-fund --loglevel=error && cd .. && \
	$(BIN)/python -m nmt.web.pack web/node_modules nmt/web/runtime

# The demo's model as a web folder ($(DEMO_RUN)/web): its index.html translates in the browser, offline.
web-demo: web
	test -f $(DEMO_RUN)/last.pt || $(MAKE) demo
	$(BIN)/nmt export $(DEMO_RUN) --out $(DEMO_RUN)/onnx --int8 --web $(DEMO_RUN)/web

# -rs: the reason of every skipped test is printed
test: install web
	$(BIN)/python -m pytest -q -rs

# Style and common mistakes (settings in pyproject.toml, [tool.ruff]); `ruff check --fix .` repairs import order.
lint: install
	$(BIN)/ruff check .

# The documentation site in build/site (docs/, mkdocs.yml), warnings as errors: a broken link, or a page that
# names a removed option, fails. The configuration and command-line references are generated from the code.
docs: install
	$(BIN)/mkdocs build --strict --quiet

data/multi30k/train.de: | install
	$(BIN)/nmt data multi30k --out data/multi30k --src de --tgt en $(if $(MIRROR),--mirror $(MIRROR))

data/tatoeba-de-en/train.de: | install
	$(BIN)/nmt data tatoeba --pair de-en --out data/tatoeba-de-en $(if $(TATOEBA_MIRROR),--mirror $(TATOEBA_MIRROR))

# The main job: Multi30k and Tatoeba -> tokenizers -> train the general model -> translate both test sets
# (beam 5) -> score them -> show a few translations of each.
demo: install data/multi30k/train.de data/tatoeba-de-en/train.de
	test -f $(DEMO_RUN)/last.pt || $(BIN)/nmt train --config $(CONFIG) --out $(DEMO_RUN) --max-minutes $(DEMO_MINUTES)
	@for test in $(DEMO_TESTS); do \
		hyp=$(DEMO_RUN)/$$(echo $$test | tr / -).beam5.en; \
		echo "=== $$test.de (beam 5)"; \
		$(BIN)/nmt translate --model $(DEMO_RUN) --input $$test.de --output $$hyp --beam 5 || exit 1; \
		$(BIN)/nmt evaluate --hyp $$hyp --ref $$test.en --metrics bleu,chrf || exit 1; \
		echo "--- sample translations (source / nmt / reference)"; \
		paste -d '\n' <(sed -n '7~250p' $$test.de | head -n 4) <(sed -n '7~250p' $$hyp | head -n 4) \
			<(sed -n '7~250p' $$test.en | head -n 4) <(yes '' | head -n 4); \
	done

bench: install data/multi30k/train.de
	$(BIN)/python -m bench all

clean-demo:
	rm -rf $(DEMO_RUN)
