# edgefaas.platform: the two entry points are `make lab` and `make test` (see README.md).
SHELL := /bin/bash
.SHELLFLAGS := -euo pipefail -c
.DEFAULT_GOAL := help

PYTHON ?= python3
VENV := $(CURDIR)/.venv
BIN := $(VENV)/bin
VENV_STAMP := $(VENV)/.installed-$(shell $(PYTHON) tests/lab/dev-requirements.py | sha256sum | cut -c1-12)
COLLECTION_LINK := .cache/collections/ansible_collections/edgefaas/platform
LAB := $(BIN)/python tests/lab/lab.py

export PATH := $(BIN):$(PATH)
export CONTAINERS_CONF := $(CURDIR)/tests/lab/containers.conf
export ANSIBLE_CONFIG := $(CURDIR)/ansible.cfg
# This checkout is the collection, for ansible-playbook and Molecule alike: never a copy installed
# into ~/.ansible/collections by another checkout or an earlier run.
export ANSIBLE_COLLECTIONS_PATH := $(CURDIR)/.cache/collections
export ANSIBLE_FORCE_COLOR ?= false

.PHONY: help lab lab-down test lint sanity units integration molecule images host-deps host-deps-check venv build changelog clean

help: ## Show the targets
	@grep -hE '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-16s %s\n", $$1, $$2}'

lab: host-deps venv ## Build the lab (sonic-1, nano-1, nano-2) and run site.yml against it
	@# Artifacts first: the switch's container bind-mounts the K3s double's control plane from them.
	tests/lab/stage-artifacts.sh
	$(LAB) up
	ansible-playbook edgefaas.platform.site

lab-down: host-deps venv ## Remove the lab's containers, network and volumes (nothing else)
	$(LAB) down

test: lint host-deps-check build sanity units integration molecule ## Everything CI runs: lint, the set-up on a clean Debian, sanity, unit and live tests, every Molecule scenario

lint: venv ## ansible-lint (production profile), yamllint, ruff
	yamllint --strict .
	ansible-lint --profile production
	ruff check .
	ruff format --check .

sanity: venv ## ansible-test sanity on a copy of the collection
	tests/sanity/run.sh

units: venv ## Unit tests of modules, module_utils and lab tools
	@# pytest exits 5 when it collects nothing: that must fail, never pass silently.
	pytest -q tests/unit || { rc=$$?; [ $$rc -eq 5 ] && echo "make units: no unit tests were collected" >&2; exit $$rc; }

integration: host-deps venv ## Live tests against real services started on this machine (Parsec, the K3s double)
	tests/integration/parsec/run-local.sh -q
	tests/doubles/k3s/smoke.sh

molecule: host-deps venv images ## Every Molecule scenario (create, converge, idempotence, verify, destroy)
	molecule test --all

images: host-deps venv ## Build the lab host images and artifacts when their recipe changed
	$(LAB) images
	tests/lab/stage-artifacts.sh

build: venv ## Build the collection tarball (and check that no test, lab or double file ships)
	ansible-galaxy collection build --force --output-path .cache/dist .
	@! tar -tzf .cache/dist/edgefaas-platform-*.tar.gz | grep -E '^(tests|molecule|\.lab|\.ci|\.config|inventories/lab)/' \
	  || { echo "make build: the tarball above ships test or lab files: extend build_ignore in galaxy.yml" >&2; exit 1; }

changelog: venv ## Release the changelog fragments into CHANGELOG.rst
	antsibull-changelog release

host-deps:
	@tests/lab/host-deps.sh

host-deps-check: host-deps venv ## The set-up's package list (tests/lab/host-deps.txt) proven in fresh minimal Debian 12 and 13 containers
	$(BIN)/python tests/lab/host_deps_check.py

venv: $(VENV_STAMP) $(COLLECTION_LINK)

$(VENV_STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -r <($(PYTHON) tests/lab/dev-requirements.py)
	rm -f $(VENV)/.installed-* && touch $@

$(COLLECTION_LINK):
	mkdir -p $(dir $@) && ln -sfn ../../../.. $@

clean: ## Remove the virtual environment and local caches of this checkout
	rm -rf $(VENV) .cache .pytest_cache .ruff_cache
