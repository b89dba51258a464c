# snn-deploy: `make demo` runs the whole pipeline on the embedded data set, `make test` runs the tests.
# Both set up the environment first: .venv with Python 3.10 (Lava's only supported version) and every
# extra (lava, audio, fast, test); torchaudio declares no torch requirement, so it is pinned to lava-dl's
# torch 2.3 here. `make test-installed` checks the built wheel, installed outside the checkout on the
# newest Python, without Lava (CI's second leg).
VENV    ?= .venv
PY      := $(VENV)/bin/python
STAMP   := $(VENV)/.snn-deploy-installed
PYTEST_ARGS ?=
DEMO_ARGS ?=

.PHONY: setup test test-installed demo bench clean-venv

setup: $(STAMP)

$(STAMP): pyproject.toml
	@set -e; \
	if [ ! -x "$(PY)" ]; then \
	  py=$$(scripts/find-python.sh 3.10) || { echo "snn-deploy's Lava backend (lava-nc 0.10.0, lava-dl 0.6.0) needs Python 3.10" >&2; exit 1; }; \
	  echo "creating $(VENV) with $$py"; \
	  "$$py" -m venv "$(VENV)"; \
	fi; \
	"$(PY)" -m pip install -q --upgrade pip; \
	"$(PY)" -m pip install -e ".[lava,audio,fast,test]" "torchaudio>=2.3,<2.4"; \
	touch "$(STAMP)"

test: setup
	$(PY) -m pytest $(PYTEST_ARGS)

test-installed: setup
	scripts/test-installed-wheel.sh

demo: setup
	$(PY) -m snn_deploy.demo $(DEMO_ARGS)

bench: setup
	$(PY) benchmarks/run_all.py

clean-venv:
	rm -rf $(VENV)
