# Discomy: `make demo` and `make test` each install what is missing, then run.
PY := .venv/bin/python
DEMO_DIR ?= out/demo

.PHONY: deps demo test bench bench-estimate bench-hub-pass bench-modules bench-webhooks fuzz rpm clean

deps:
	@scripts/bootstrap.sh

demo: deps
	$(PY) -m discomy.cli.demo --workdir $(DEMO_DIR)

test: deps
	$(PY) -m pytest -q -p no:cacheprovider tests

bench: deps
	$(PY) bench/bench_core.py

# the estimator's goals: discomy against the bound and koji-stock, and its wall time
bench-estimate: deps
	$(PY) bench/bench_estimate.py

# one scheduler pass on a real kojihub, stock against discomy_hub (as root)
bench-hub-pass: deps
	$(PY) bench/bench_hub_pass.py

bench-modules: deps
	$(PY) bench/bench_modules.py

bench-webhooks: deps
	$(PY) bench/bench_webhooks.py

fuzz: deps
	$(PY) bench/fuzz_inputs.py

rpm: deps
	$(PY) -m pytest -q tests/test_packaging.py

clean:
	rm -rf out .pytest_cache
