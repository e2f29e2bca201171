# netsynth: every target does its own set-up on a fresh machine.
PYTHON ?= python3.11
VENV   := .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed
export RAY_USAGE_STATS_ENABLED := 0
export PYTHONHASHSEED := 0

.PHONY: setup demo test test-fast bench bench-families fuzz examples clean

setup: $(STAMP)

$(STAMP): pyproject.toml
	@echo "setup: making $(VENV) and installing netsynth's dependencies (the first time takes a minute or two)"
	test -x $(PY) || $(PYTHON) -m venv $(VENV) || python3 -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	@echo "setup: torch, the pinned CPU build (an unpinned torch pulls a multi-GB CUDA build)"
	$(PY) -m pip install --quiet torch==2.13.0
	@echo "setup: netsynth and the rest (numpy, numba, onnxruntime, z3, ray, fastapi, ...)"
	$(PY) -m pip install --quiet -e '.[dev]'
	touch $(STAMP)
	@echo "setup: done"

demo: $(STAMP)
	$(PY) examples/demo.py

test: $(STAMP)
	$(PY) -m pytest -q tests

test-fast: $(STAMP)
	$(PY) -m pytest -q tests -m "not integration and not slow"

bench: $(STAMP)
	$(PY) bench/enumerate.py
	$(PY) bench/oracle_query.py
	$(PY) bench/scale.py
	$(PY) bench/status_latency.py

# Each search family against its benchmark, on the committed networks (docs/performance.md).
bench-families: $(STAMP)
	$(PY) bench/tomita/run.py
	$(PY) bench/policies/run.py
	$(PY) bench/mips/run.py --oracle network
	$(PY) bench/feynman/run.py --budget 180
	$(PY) bench/hackers_delight/run.py --ops core --solvers netsynth

# schemathesis against a running job service, longer than `make test` runs it: no 5xx, no answer
# outside the OpenAPI schema.
fuzz: $(STAMP)
	NETSYNTH_FUZZ_EXAMPLES=300 $(PY) -m pytest -q tests/test_service.py -k openapi_schema_fuzzed -p no:cacheprovider

examples: $(STAMP)
	$(PY) examples/train.py

clean:
	rm -rf $(VENV) .pytest_cache build *.egg-info
