# The two commands of the README: `make demo` and `make test`. Each sets up what it needs.
#
#   make demo                       the main job against the bundled simulator
#   make test                       lint, then sanity + units on every supported ansible-core,
#                                   integration on the oldest and the newest
#   make test CORES=2.19 INTEGRATION_CORES=2.19   a quick run on one release
SHELL := /bin/bash
PYTHON ?= python3
# Supported ansible-core releases; the first is the oldest, the last the newest.
CORES ?= 2.16 2.17 2.18 2.19
NEWEST := $(lastword $(CORES))
OLDEST := $(firstword $(CORES))
INTEGRATION_CORES ?= $(sort $(OLDEST) $(NEWEST))
PIP := --quiet --disable-pip-version-check
VERSION := $(shell sed -n 's/^version: *//p' galaxy.yml)
ARTIFACT := build/msp-screenconnect-$(VERSION).tar.gz
INSTALLED := $(abspath build/installed)
TOOLS := $(abspath .venv-tools)/bin
# .venv is the newest release, the one `make demo` uses; .venv-2.16 ... the others.
venv_of = $(abspath $(if $(filter $(1),$(NEWEST)),.venv,.venv-$(1)))
NEWEST_BIN := $(call venv_of,$(NEWEST))/bin

.PHONY: demo test lint sanity units integration build install clean $(addprefix venv-,$(CORES))

# ---- environments -----------------------------------------------------------------------------
define core_venv
venv-$(1): $(call venv_of,$(1))/.deps
$(call venv_of,$(1))/.deps: requirements.txt tests/requirements.txt
	$(PYTHON) -m venv $(call venv_of,$(1))
	$(call venv_of,$(1))/bin/pip install $(PIP) 'ansible-core==$(1).*' -r requirements.txt -r tests/requirements.txt
	touch $$@
endef
$(foreach core,$(CORES),$(eval $(call core_venv,$(core))))

# Linters and doc tools bring their own ansible-core: a venv of their own keeps them apart.
$(TOOLS)/.deps: tests/lint-requirements.txt
	$(PYTHON) -m venv $(abspath .venv-tools)
	$(TOOLS)/pip install $(PIP) -r tests/lint-requirements.txt
	touch $@

# ---- the collection as users get it -------------------------------------------------------------
build: venv-$(NEWEST)
	mkdir -p build && rm -f $(ARTIFACT)
	$(NEWEST_BIN)/ansible-galaxy collection build --force --output-path build .

install: build
	$(NEWEST_BIN)/ansible-galaxy collection install --force -p $(INSTALLED) $(ARTIFACT)

# ---- the README's two commands --------------------------------------------------------------------
# The main job against the bundled simulator; installs nothing outside this checkout.
demo: install
	PATH=$(NEWEST_BIN):$$PATH ANSIBLE_COLLECTIONS_PATH=$(INSTALLED) tools/demo.sh

test: lint sanity units integration

# ---- the parts of `make test` -----------------------------------------------------------------
lint: $(TOOLS)/.deps install
	tools/ci/lint.sh $(TOOLS) $(INSTALLED)

sanity: $(addprefix venv-,$(CORES))
	set -e; for core in $(CORES); do \
		bin=$$( [ $$core = $(NEWEST) ] && echo $(abspath .venv) || echo $(abspath .venv-$$core) )/bin; \
		echo "== ansible-test sanity, ansible-core $$core"; \
		PATH=$$bin:$$PATH tools/ci/ansible_test.sh sanity --python 3.11; \
	done

units: $(addprefix venv-,$(CORES))
	set -e; for core in $(CORES); do \
		bin=$$( [ $$core = $(NEWEST) ] && echo $(abspath .venv) || echo $(abspath .venv-$$core) )/bin; \
		echo "== unit tests, ansible-core $$core"; \
		PATH=$$bin:$$PATH $$bin/python -m pytest -q -p no:cacheprovider tests/unit tests/simulator; \
	done

# Oldest first, newest last: the newest run's summary is the closing line CI reads.
integration: $(addprefix venv-,$(INTEGRATION_CORES) $(OLDEST))
	set -e; for core in $(INTEGRATION_CORES); do \
		bin=$$( [ $$core = $(NEWEST) ] && echo $(abspath .venv) || echo $(abspath .venv-$$core) )/bin; \
		echo "== integration tests, ansible-core $$core"; \
		PATH=$$bin:$$PATH SCREENCONNECT_TEST_OLDEST_BIN=$(call venv_of,$(OLDEST))/bin \
			$$bin/python -m pytest -q -p no:cacheprovider -n 2 --dist loadfile tests/integration; \
	done

clean:
	rm -rf build .venv .venv-*
