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
SERVICES_WHEEL_DIR := $(CURDIR)/.cache/dist/services
# The parts of `make test`, in order, and where each part (and each Molecule scenario) notes its time.
TEST_PARTS := lint host-deps-check build sanity units integration molecule
TIMES := $(CURDIR)/.cache/test-times.txt
MOLECULE_SCENARIOS := $(patsubst molecule/%/molecule.yml,%,$(wildcard molecule/*/molecule.yml))

export PATH := $(BIN):$(PATH)
export CONTAINERS_CONF := $(CURDIR)/tests/lab/containers.conf
export ANSIBLE_CONFIG := $(CURDIR)/ansible.cfg
# This checkout is the collection, for ansible-playbook and Molecule alike: never a copy installed
# into ~/.ansible/collections by another checkout or an earlier run.
export ANSIBLE_COLLECTIONS_PATH := $(CURDIR)/.cache/collections
export ANSIBLE_FORCE_COLOR ?= false

.PHONY: help lab lab-down test lint sanity units integration molecule images host-deps host-deps-check venv build services-wheel changelog clean

help: ## Show the targets
	@grep -hE '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-16s %s\n", $$1, $$2}'

lab: host-deps venv ## Build the lab (sonic-1, sonic-2, nano-1, nano-2) and run site.yml against it
	@# Artifacts first: the switch's container bind-mounts the K3s double's control plane from them.
	tests/lab/stage-artifacts.sh
	$(LAB) up
	ansible-playbook edgefaas.platform.site

lab-down: host-deps venv ## Remove the lab's containers, network and volumes (nothing else)
	$(LAB) down

test: ## Everything CI runs: lint, the set-up on a clean Debian, sanity, unit and live tests, every Molecule scenario; then the time of each part
	@mkdir -p $(dir $(TIMES)) && : > $(TIMES); status=0; \
	for part in $(TEST_PARTS); do \
	  start=$$(date +%s); $(MAKE) --no-print-directory $$part || status=$$?; \
	  echo "make $$part: $$(( $$(date +%s) - start )) s$$( [ $$status -eq 0 ] || echo ", failed ($$status)")" >> $(TIMES); \
	  [ $$status -eq 0 ] || break; \
	done; \
	echo "make test: the time of each part (each Molecule scenario above make molecule)"; cat $(TIMES); exit $$status

lint: venv ## ansible-lint (production profile), yamllint, ruff
	yamllint --strict .
	ansible-lint --profile production
	ruff check .
	ruff format --check .

sanity: venv ## ansible-test sanity on a copy of the collection
	tests/sanity/run.sh

units: venv services-wheel ## Unit tests of modules, module_utils, lab tools and the services (from their wheel)
	@# pytest exits 5 when it collects nothing: that must fail, never pass silently.
	PYTHONPATH=$$(echo $(SERVICES_WHEEL_DIR)/edgefaas_services-*.whl) pytest -q tests/unit services/tests || { rc=$$?; [ $$rc -eq 5 ] && echo "make units: no unit tests were collected" >&2; exit $$rc; }

integration: host-deps venv services-wheel ## Live tests against real services started on this machine (Parsec, the K3s double, the L4T Parsec bundle under qemu-user)
	PYTHONPATH=$$(echo $(SERVICES_WHEEL_DIR)/edgefaas_services-*.whl) tests/integration/parsec/run-local.sh -q
	tests/integration/parsec_bundle/run.sh -q
	tests/doubles/k3s/smoke.sh

molecule: host-deps venv images ## Every Molecule scenario (create, converge, idempotence, verify, destroy), each timed
	@mkdir -p $(dir $(TIMES))
	for scenario in $(MOLECULE_SCENARIOS); do \
	  start=$$(date +%s); molecule test -s $$scenario; \
	  echo "molecule test -s $$scenario: $$(( $$(date +%s) - start )) s" | tee -a $(TIMES); \
	done

images: host-deps venv ## Build the lab host images and artifacts when their recipe changed
	$(LAB) images
	tests/lab/stage-artifacts.sh

build: venv ## Build the collection tarball (no test, lab or double file ships; it parses with ansible-core and the declared collections alone)
	ansible-galaxy collection build --force --output-path .cache/dist .
	@! tar -tzf .cache/dist/edgefaas-platform-*.tar.gz | grep -E '^(tests|services/tests|molecule|\.lab|\.ci|\.config|inventories/lab)/' \
	  || { echo "make build: the tarball above ships test or lab files: extend build_ignore in galaxy.yml" >&2; exit 1; }
	@# On a controller with ansible-core and galaxy.yml's dependencies alone, every playbook parses.
	$(BIN)/python tests/controller/check_tarball.py .cache/dist/edgefaas-platform-*.tar.gz

services-wheel: venv ## Build the services' wheel (services/, with the Parsec client) into .cache/dist/services
	$(BIN)/python services/build_wheel.py --output-dir $(SERVICES_WHEEL_DIR)

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
