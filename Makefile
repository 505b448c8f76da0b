# Discomy: `make demo` and `make test` each install what is missing, then run.
PY := .venv/bin/python
DEMO_DIR ?= out/demo

.PHONY: deps demo test bench bench-modules fuzz rpm clean

deps:
	@scripts/bootstrap.sh

demo: deps
	$(PY) -m discomy.cli.demo --workdir $(DEMO_DIR)

test: deps
	$(PY) -m pytest -q -p no:cacheprovider tests

bench: deps
	$(PY) bench/bench_core.py

bench-modules: deps
	$(PY) bench/bench_modules.py

fuzz: deps
	$(PY) bench/fuzz_inputs.py

rpm: deps
	$(PY) -m pytest -q tests/test_packaging.py

clean:
	rm -rf out .pytest_cache
