# VoxDesk: the two commands a newcomer needs.
#   make run   set up (Debian packages, .venv, Python deps) and start the app on the local engine
#   make test  the same set-up plus test dependencies, then lint, type-check and the whole suite
# Both are idempotent: with nothing to do, the set-up part takes a second or two.

PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
PIP    := $(PY) -m pip --disable-pip-version-check
APT_RUNTIME := installer/apt-runtime.txt
APT_TEST    := installer/apt-test.txt

.PHONY: run test lint typecheck pytest apt-runtime apt-test package clean

run: apt-runtime $(VENV)/.runtime-installed
	$(VENV)/bin/voxdesk

test: apt-runtime apt-test $(VENV)/.test-installed lint typecheck pytest

apt-runtime:
	@installer/ensure-apt.sh $(APT_RUNTIME)

apt-test:
	@installer/ensure-apt.sh $(APT_TEST)

$(PY):
	$(PYTHON) -m venv $(VENV)
	$(PIP) install --quiet --upgrade pip

$(VENV)/.runtime-installed: pyproject.toml | $(PY)
	$(PIP) install --quiet -e .
	@touch $@

$(VENV)/.test-installed: pyproject.toml | $(PY)
	$(PIP) install --quiet -e '.[test]'
	@touch $@ $(VENV)/.runtime-installed

lint:
	$(VENV)/bin/ruff check app ui tests installer
	$(VENV)/bin/ruff format --check app ui tests installer

typecheck:
	$(VENV)/bin/mypy

# pytest exits 5 when it collected no test: that is a failure here, never a pass.
pytest:
	@$(PY) -m pytest; rc=$$?; \
	if [ $$rc -eq 5 ]; then echo "make test: pytest collected no tests - failing" >&2; exit 1; fi; \
	exit $$rc

# A one-folder native bundle (dist/voxdesk/) and a .deb around it; see installer/README.md.
package: apt-runtime apt-test $(VENV)/.test-installed
	$(PY) installer/build_bundle.py
	installer/build_deb.sh

clean:
	rm -rf $(VENV) build dist *.egg-info .pytest_cache .mypy_cache .ruff_cache
