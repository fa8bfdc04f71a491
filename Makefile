# The two commands of the README: `make demo` and `make test`. Each sets up what it needs.
#
#   make demo                       the main job against the bundled simulator (installs nothing)
#   make demo-fleet                 the same loop on two throwaway Debian hosts (root only)
#   make test                       lint, then sanity + units on every supported ansible-core,
#                                   the molecule scenarios on separate Debian hosts (root),
#                                   integration on the oldest, AWX's (2.20) and the newest
#   make check                      without root: lint, sanity, units and ansible-test integration
#                                   on the releases this machine's Python runs (2.16-2.19 on 3.11)
#   make integration-targets        ansible-test integration (tests/integration/targets) only
#   make test CORES=2.19 INTEGRATION_CORES=2.19   a quick run on one release
#   tools/ansible_core.sh 2.21 ansible --version  any command with one release
SHELL := /bin/bash
PYTHON ?= python3
export PYTHON
# Supported ansible-core releases, oldest first. 2.20 and 2.21 need Python 3.12+: without one on
# PATH, tools/ansible_core.sh runs them in a Debian trixie root (needs root; built once, cached).
CORES ?= 2.16 2.18 2.19 2.20 2.21
# Integration on the oldest, AWX's current execution environment (2.20) and the newest.
INTEGRATION_CORES ?= 2.16 2.20 2.21
# `make check` uses the releases this machine runs without root: all of CORES with a Python 3.12+
# ($(PYTHON) or a python3.12+ on PATH), else those before 2.20.
HAS_PY312 := $(shell for p in $(PYTHON) python3.14 python3.13 python3.12; do \
	$$p -c 'import sys; sys.exit(sys.version_info < (3, 12))' 2>/dev/null && echo yes && break; done)
CHECK_CORES ?= $(if $(HAS_PY312),$(CORES),$(filter-out 2.20 2.21,$(CORES)))
# `make demo` uses the newest release this machine's Python runs as it is (no root needed).
DEMO_CORE ?= $(shell $(PYTHON) -c 'import sys; print("2.21" if sys.version_info >= (3, 12) else "2.19")')
CORE := tools/ansible_core.sh
PIP := --quiet --disable-pip-version-check
VERSION := $(shell sed -n 's/^version: *//p' galaxy.yml)
ARTIFACT := build/msp-screenconnect-$(VERSION).tar.gz
INSTALLED := $(abspath build/installed)
TOOLS := $(abspath .venv-tools)/bin
DEMO_BIN := $(abspath .venv)/bin
MOLECULE_BIN := $(abspath .venv-molecule)/bin
EDA_BIN := $(abspath .venv-eda)/bin

.PHONY: demo demo-fleet test check lint sanity units molecule hosts-check integration integration-targets \
	system-tests simulator-tests every-core eda build install clean venv

# ---- environments -----------------------------------------------------------------------------
# .venv is the demo release's venv (.venv-$(DEMO_CORE)); tools/ansible_core.sh makes each release's.
venv:
	$(CORE) $(DEMO_CORE)
	[ -L .venv ] || rm -rf .venv
	ln -sfn .venv-$(DEMO_CORE) .venv

# Linters and doc tools bring their own ansible-core: a venv of their own keeps them apart.
$(TOOLS)/.deps: tests/lint-requirements.txt
	$(PYTHON) -m venv $(abspath .venv-tools)
	$(TOOLS)/pip install $(PIP) -r tests/lint-requirements.txt
	touch $@

# molecule and the ansible-core it drives (tests/molecule-requirements.txt), for make molecule and demo-fleet.
$(MOLECULE_BIN)/.deps: tests/molecule-requirements.txt
	rm -rf .venv-molecule
	$(PYTHON) -m venv $(abspath .venv-molecule)
	$(MOLECULE_BIN)/pip install $(PIP) -r tests/molecule-requirements.txt
	touch $@

# ansible-rulebook (Java 17+) for the event sources' real run (make eda), apart from every other tool.
$(EDA_BIN)/.deps: tests/eda-requirements.txt requirements.txt
	rm -rf .venv-eda
	$(PYTHON) -m venv $(abspath .venv-eda)
	$(EDA_BIN)/pip install $(PIP) -r tests/eda-requirements.txt -r requirements.txt
	touch $@

# ---- the collection as users get it -------------------------------------------------------------
build: venv
	mkdir -p build && rm -f $(ARTIFACT)
	$(DEMO_BIN)/ansible-galaxy collection build --force --output-path build .

install: build
	$(DEMO_BIN)/ansible-galaxy collection install --force --no-deps -p $(INSTALLED) $(ARTIFACT)

# ---- the README's two commands --------------------------------------------------------------------
# The main job against the bundled simulator; installs nothing outside this checkout.
demo: install
	PATH=$(DEMO_BIN):$$PATH ANSIBLE_COLLECTIONS_PATH=$(INSTALLED) tools/demo.sh

# The same loop for real: deploy to two throwaway Debian hosts (bookworm, trixie), the inventory
# graph, a command's output from each host, removal. Root only (network namespaces, debootstrap).
demo-fleet: hosts-check $(MOLECULE_BIN)/.deps install
	PATH=$(MOLECULE_BIN):$$PATH ANSIBLE_COLLECTIONS_PATH=$(INSTALLED) tools/demo_fleet.sh

# hosts-check first: without root, make test stops at once with its one line. The README's demos
# run too, so they stay true. molecule and the demos before integration: the integration run's
# summary stays the closing line CI reads.
test: hosts-check lint sanity units molecule demo demo-fleet eda integration

# What a contributor runs without root: no test hosts, no Debian root for 2.20/2.21 (unless a
# Python 3.12+ is there). `make test` (CI) runs everything.
check:
	$(MAKE) lint
	$(MAKE) sanity units integration-targets CORES="$(CHECK_CORES)" INTEGRATION_CORES="$(CHECK_CORES)"

# ---- the parts of `make test` -----------------------------------------------------------------
lint: $(TOOLS)/.deps install
	tools/ci/lint.sh $(TOOLS) $(INSTALLED) $(ARTIFACT)

sanity:
	set -e; for core in $(CORES); do \
		echo "== ansible-test sanity, ansible-core $$core"; \
		$(CORE) $$core tools/ci/ansible_test.sh sanity; \
	done

# On every release: ansible-test units (its own pinned pytest, in a venv of its own) on the
# collection as that release's ansible-galaxy builds it, the artifact's files plus tests/.
units:
	set -e; for core in $(CORES); do \
		echo "== ansible-test units on the built artifact, ansible-core $$core"; \
		$(CORE) $$core ansible-galaxy collection build --force --output-path build/units-$$core .; \
		ANSIBLE_TEST_FROM_ARTIFACT=build/units-$$core/msp-screenconnect-$(VERSION).tar.gz \
			$(CORE) $$core tools/ci/ansible_test.sh units; \
	done

# molecule test of every scenario of extensions/molecule/ on separate Debian hosts over SSH, with the
# machine's packages, /opt, /etc/init.d, systemd units and mounts compared before and after
# (tests/molecule). Needs root: where test hosts cannot run, hosts-check says why in one line and
# the target fails.
molecule: hosts-check $(MOLECULE_BIN)/.deps
	$(MOLECULE_BIN)/python -m pytest -q -p no:cacheprovider -s tests/molecule

# First of all: can test hosts run here (root, debootstrap, network namespaces, overlay)? If not, one line says why.
hosts-check:
	@tools/test_hosts.sh check

# Everything against the simulator: the simulator's own tests once; on every release of CORES that
# is not one of INTEGRATION_CORES, what must hold on each (every-core); then on each of
# INTEGRATION_CORES the ansible-test integration targets and the system tests (tests/system: the
# CLIs and several processes). Oldest first, newest last: the newest run's summary is the closing
# line CI reads.
integration: simulator-tests every-core
	set -e; for core in $(INTEGRATION_CORES); do \
		$(MAKE) --no-print-directory integration-targets system-tests INTEGRATION_CORES=$$core; \
	done

# ansible-test integration alone: every target of tests/integration/targets against the bundled
# simulator, offline, in a venv ansible-test makes (tools/ci/ansible_test.sh).
integration-targets:
	set -e; for core in $(INTEGRATION_CORES); do \
		echo "== ansible-test integration (tests/integration/targets), ansible-core $$core"; \
		$(CORE) $$core tools/ci/ansible_test.sh integration; \
	done

# The pytest system tests alone, on each of INTEGRATION_CORES.
system-tests:
	set -e; for core in $(INTEGRATION_CORES); do \
		echo "== system tests (tests/system), ansible-core $$core"; \
		$(CORE) $$core python -m pytest -q -p no:cacheprovider -n 2 --dist loadfile tests/system; \
	done

# The simulator's own tests (stdlib simulator; pytest and requests from the demo release's venv).
simulator-tests:
	$(CORE) $(DEMO_CORE) python -m pytest -q -p no:cacheprovider -n 2 tools/simulator/tests

# What must hold on every supported release, also those integration skips: the golden inventory
# (the inventory_screenconnect target) and the system tests marked every_core (template injection,
# the AWX import check).
every-core:
	set -e; for core in $(filter-out $(INTEGRATION_CORES),$(CORES)); do \
		echo "== every-core checks, ansible-core $$core"; \
		$(CORE) $$core tools/ci/ansible_test.sh integration inventory_screenconnect; \
		$(CORE) $$core python -m pytest -q -p no:cacheprovider -m every_core tests/system; \
	done

# One real ansible-rulebook run of extensions/eda/rulebooks/onboard.yml from the installed collection
# against the simulator (tests/system/test_eda_rulebook.py; system-tests skip it without EDA_BIN).
eda: $(EDA_BIN)/.deps
	tools/ensure_java.sh
	EDA_BIN=$(EDA_BIN) EDA_REQUIRED=1 $(CORE) $(DEMO_CORE) python -m pytest -q -p no:cacheprovider tests/system/test_eda_rulebook.py

# build/roots keeps the debootstrap roots (tools/debian_root.sh): slow to make, and nothing in them
# comes from this checkout.
clean:
	if [ -d build ]; then find build -mindepth 1 -maxdepth 1 ! -name roots -exec rm -rf {} +; fi
	rm -rf .venv .venv-*
