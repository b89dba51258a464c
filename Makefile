# snn-deploy: `make demo` runs the whole pipeline on the embedded data set, `make test` runs the tests.
# Both set up the environment first (.venv with Python 3.10, Lava's only supported version).
VENV    ?= .venv
PY      := $(VENV)/bin/python
STAMP   := $(VENV)/.snn-deploy-installed
PYTEST_ARGS ?=
DEMO_ARGS ?=

.PHONY: setup test demo bench clean-venv

setup: $(STAMP)

$(STAMP): pyproject.toml
	@set -e; \
	if [ ! -x "$(PY)" ]; then \
	  py=$$(scripts/find-python310.sh); \
	  echo "creating $(VENV) with $$py"; \
	  "$$py" -m venv "$(VENV)"; \
	fi; \
	"$(PY)" -m pip install -q --upgrade pip; \
	"$(PY)" -m pip install -e ".[test]"; \
	touch "$(STAMP)"

test: setup
	$(PY) -m pytest $(PYTEST_ARGS)

demo: setup
	$(PY) -m snn_deploy.demo $(DEMO_ARGS)

bench: setup
	$(PY) benchmarks/run_all.py

clean-venv:
	rm -rf $(VENV)
