# Two entry points: `make demo` (install, build the index, answer a question) and `make test`.
PY ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
QUESTION ?= Which paper won the MLSys 2026 Best Paper award?

.PHONY: install demo test build clean

$(BIN)/python:
	$(PY) -m venv $(VENV)

install: $(BIN)/python
	# CPU-only torch first, so that sentence-transformers does not pull a multi-GB CUDA build.
	$(BIN)/pip install -q --disable-pip-version-check torch==2.13.0
	$(BIN)/pip install -q --disable-pip-version-check -e ".[dev,eval]"

build: install
	$(BIN)/rag build

demo: build
	$(BIN)/rag ask "$(QUESTION)"

# The evaluation gate runs first so that pytest's summary line closes the output.
test: install
	$(BIN)/python -m eval --gate --no-progress
	$(BIN)/python -m pytest -q

clean:
	rm -rf index .cache
