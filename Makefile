# Two commands on a fresh machine: `make demo` and `make test`. Each creates .venv if missing and
# installs the project (editable) with the pinned dependencies; re-running is fast when .venv is
# current (stamp files record what was installed from setup.cfg + constraints). `make demo`
# installs only the core dependencies (extra `demo`); `make test` adds the test extras and
# `make docs` the documentation tools.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
DEMO_STAMP := $(VENV)/.installed-demo
DOCS_STAMP := $(VENV)/.installed-docs
PYTEST_ARGS ?=
# one test process per core (pytest-xdist); each uses one torch thread (tests/conftest.py)
XDIST ?= -n auto
DEMO_ARGS ?=

.PHONY: demo test test-fast test-browser bench docs scatter freeze clean venv

$(STAMP): setup.cfg pyproject.toml .ci/constraints.txt
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q -c .ci/constraints.txt -e '.[test]'
	@touch $(STAMP)

$(DEMO_STAMP): setup.cfg pyproject.toml .ci/constraints.txt
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q -c .ci/constraints.txt -e '.[demo]'
	@touch $(DEMO_STAMP)

$(DOCS_STAMP): setup.cfg pyproject.toml .ci/constraints.txt
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q -c .ci/constraints.txt -e '.[docs]'
	@touch $(DOCS_STAMP)

venv: $(STAMP)

demo: $(DEMO_STAMP)
	$(PY) -m sgkit.demo --out runs/demo $(DEMO_ARGS)

test: $(STAMP)
	$(PY) -m pytest tests $(XDIST) -q -ra --durations=15 $(PYTEST_ARGS)

test-fast: $(STAMP)
	$(PY) -m pytest tests $(XDIST) -q -m "not slow" $(PYTEST_ARGS)

# the editor page in headless Chromium (Debian's chromium + chromium-driver, installed when missing)
test-browser: $(STAMP)
	@if ! command -v chromium >/dev/null || ! command -v chromedriver >/dev/null; then \
	  SUDO=$$(test "$$(id -u)" = 0 || echo sudo); \
	  $$SUDO apt-get update -q && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -q chromium chromium-driver; fi
	$(PY) -m pip install -q -c .ci/constraints.txt -e '.[editor,browser]'
	SGKIT_BROWSER_TESTS=1 $(PY) -m pytest tests/browser -m browser -q -ra -n 0 $(PYTEST_ARGS)

bench: $(STAMP)
	$(PY) -m pytest benchmarks --benchmark -q $(PYTEST_ARGS)

# the documentation site (docs/_build/html); warnings are errors, tutorial code runs during the build
docs: $(DOCS_STAMP)
	$(PY) -m sphinx -W --keep-going -b html -j 1 docs docs/_build/html

# torch-scatter is source-only: a separate, slow (~8 min) build against the installed torch.
scatter: $(STAMP)
	$(PY) -m pip install --no-build-isolation --no-cache-dir torch-scatter==2.1.2
	$(PY) -c "import torch_geometric.typing as t; assert t.WITH_TORCH_SCATTER, 'torch-scatter did not load'; print('torch-scatter OK')"

freeze: $(STAMP)
	( echo '# Exact versions `make` installs (pip constraints). Regenerate with `make freeze` after changing setup.cfg.'; \
	  $(PY) -m pip install -q -e '.[test,docs,editor,browser]' && $(PY) -m pip freeze --exclude-editable | grep -v -i '^graphkits' ) > .ci/constraints.txt

clean:
	rm -rf $(VENV) runs .pytest_cache .benchmarks docs/_build docs/api/generated docs/_generated
