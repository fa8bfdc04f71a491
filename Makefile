# The two commands of the README: `make demo` and `make test`. Each sets up what it needs.
#
#   make demo                       the main job against the bundled simulator (installs nothing)
#   make demo-fleet                 the same loop on two throwaway Debian hosts (root only)
#   make test                       lint, then sanity + units on every supported ansible-core,
#                                   the molecule scenarios on separate Debian hosts (root),
#                                   integration on the oldest, AWX's (2.20) and the newest
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

.PHONY: demo demo-fleet test lint sanity units molecule hosts-check integration build install clean venv

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

# ---- the collection as users get it -------------------------------------------------------------
build: venv
	mkdir -p build && rm -f $(ARTIFACT)
	$(DEMO_BIN)/ansible-galaxy collection build --force --output-path build .

install: build
	$(DEMO_BIN)/ansible-galaxy collection install --force -p $(INSTALLED) $(ARTIFACT)

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
test: hosts-check lint sanity units molecule demo demo-fleet integration

# ---- the parts of `make test` -----------------------------------------------------------------
lint: $(TOOLS)/.deps install
	tools/ci/lint.sh $(TOOLS) $(INSTALLED) $(ARTIFACT)

sanity:
	set -e; for core in $(CORES); do \
		echo "== ansible-test sanity, ansible-core $$core"; \
		$(CORE) $$core tools/ci/ansible_test.sh sanity; \
	done

# On every release: ansible-test units (its own pinned pytest, in a venv of its own) on the
# collection as that release's ansible-galaxy builds it, the artifact's files plus tests/; then the
# integration tests marked every_core (template injection, the AWX import check, the golden inventory).
units:
	set -e; for core in $(CORES); do \
		echo "== ansible-test units on the built artifact, ansible-core $$core"; \
		$(CORE) $$core ansible-galaxy collection build --force --output-path build/units-$$core .; \
		ANSIBLE_TEST_FROM_ARTIFACT=build/units-$$core/msp-screenconnect-$(VERSION).tar.gz \
			$(CORE) $$core tools/ci/ansible_test.sh units; \
		echo "== every_core integration tests, ansible-core $$core"; \
		$(CORE) $$core python -m pytest -q -p no:cacheprovider -m every_core tests/integration; \
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

# Everything against the simulator, its own tests (tests/integration/simulator) included.
# Oldest first, newest last: the newest run's summary is the closing line CI reads.
integration:
	set -e; for core in $(INTEGRATION_CORES); do \
		echo "== integration tests, ansible-core $$core"; \
		$(CORE) $$core python -m pytest -q -p no:cacheprovider -n 2 --dist loadfile tests/integration; \
	done

clean:
	rm -rf build .venv .venv-*
