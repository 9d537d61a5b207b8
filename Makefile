# Set-up, tests and the demo. `make test` on a fresh clone installs everything it needs.
SHELL := /bin/bash
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
# The CPU build of torch. A GPU user installs their own torch into $(VENV) first; it is then kept.
TORCH ?= torch==2.13.0
# Multi30k is read from this folder when it exists (no network needed), else downloaded.
MIRROR ?= $(wildcard ../shared/data/multi30k)
DEMO_MINUTES ?= 10
# the best model that fits the demo's 10 minutes; CONFIG=configs/multi30k-de-en-small.yaml for the
# reversed-input LSTM without attention of the seed
CONFIG ?= configs/multi30k-de-en-attention.yaml
DEMO_RUN ?= runs/demo

.PHONY: install test lint demo bench clean-demo

install: $(VENV)/.installed

$(VENV)/.installed: pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -c "import torch" 2>/dev/null || $(BIN)/pip install -q $(TORCH)
	$(BIN)/pip install -q -e ".[full,test]"
	touch $@

# -rs: the reason of every skipped test is printed
test: install
	$(BIN)/python -m pytest -q -rs

# Style and common mistakes (settings in pyproject.toml, [tool.ruff]); `ruff check --fix .` repairs import order.
lint: install
	$(BIN)/ruff check .

data/multi30k/train.de: | install
	$(BIN)/nmt data multi30k --out data/multi30k --src de --tgt en $(if $(MIRROR),--mirror $(MIRROR))

# The main job: Multi30k -> tokenizers -> train the small config -> translate test2016 (beam 5) -> score.
demo: install data/multi30k/train.de
	test -f $(DEMO_RUN)/last.pt || $(BIN)/nmt train --config $(CONFIG) --out $(DEMO_RUN) --max-minutes $(DEMO_MINUTES)
	$(BIN)/nmt translate --model $(DEMO_RUN) --input data/multi30k/test2016.de --output $(DEMO_RUN)/test2016.beam5.en --beam 5
	$(BIN)/nmt evaluate --hyp $(DEMO_RUN)/test2016.beam5.en --ref data/multi30k/test2016.en --metrics bleu,chrf
	@echo "--- sample translations (source / nmt / reference) ---"
	@paste -d '\n' <(head -n 5 data/multi30k/test2016.de) <(head -n 5 $(DEMO_RUN)/test2016.beam5.en) \
		<(head -n 5 data/multi30k/test2016.en) <(yes '' | head -n 5)

bench: install data/multi30k/train.de
	$(BIN)/python -m bench all

clean-demo:
	rm -rf $(DEMO_RUN)
