# The two commands of the README: `make demo` and `make test`. Each sets up what it needs.
SHELL := /bin/bash
PYTHON ?= python3
VENV ?= .venv
ANSIBLE_CORE ?= 2.19.*
BIN := $(abspath $(VENV))/bin
VERSION := $(shell sed -n 's/^version: *//p' galaxy.yml)
ARTIFACT := build/msp-screenconnect-$(VERSION).tar.gz
INSTALLED := $(abspath build/installed)

.PHONY: venv build install demo test sanity pytest clean

venv: $(BIN)/.deps

$(BIN)/.deps: requirements.txt tests/requirements.txt
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --disable-pip-version-check 'ansible-core==$(ANSIBLE_CORE)' \
		-r requirements.txt -r tests/requirements.txt
	touch $@

# Build the collection artifact and install it the way users do.
build: venv
	mkdir -p build && rm -f $(ARTIFACT)
	$(BIN)/ansible-galaxy collection build --force --output-path build .

install: build
	$(BIN)/ansible-galaxy collection install --force -p $(INSTALLED) $(ARTIFACT)

# The main job against the bundled simulator; installs nothing outside this checkout.
demo: install
	PATH=$(BIN):$$PATH ANSIBLE_COLLECTIONS_PATH=$(INSTALLED) tools/demo.sh

sanity: venv
	PATH=$(BIN):$$PATH tools/ci/ansible_test.sh sanity --python 3.11

pytest: install
	PATH=$(BIN):$$PATH $(BIN)/python -m pytest -q tests/unit tests/simulator tests/integration

test: sanity pytest

clean:
	rm -rf build $(VENV)
