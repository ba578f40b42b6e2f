# The two commands a newcomer needs: `make run` (the local dev stack) and `make test` (everything CI runs).
# Each does its own set-up: uv, the locked Python environment, and the control-plane binaries (cached);
# `make test` also the local node's runtime (Debian packages; root) and, in the session, its images (cached).
SHELL := /bin/bash
UV := $(shell hack/ensure-uv.sh)

.PHONY: run test unit lint setup control-plane helm promtool node-runtime crds mutants coverage

setup:
	$(UV) sync --frozen

control-plane:
	hack/build-control-plane.sh >/dev/null

# helm, for the chart's tests (`make run` does not use it)
helm:
	hack/build-helm.sh >/dev/null

# promtool, to run the shipped alerts (deploy/monitoring) against the operator's metrics
promtool:
	hack/build-promtool.sh >/dev/null

# the local node's runtime (containerd, runc, CNI plugins, buildah, mmdebstrap) from Debian's packages, once
node-runtime:
	hack/install-node-runtime.sh

run: setup control-plane
	$(UV) run --frozen bedrock-model-operator dev

lint: setup
	$(UV) run --frozen ruff check .
	$(UV) run --frozen ruff format --check .

test: setup control-plane helm promtool node-runtime lint
	$(UV) run --frozen pytest $(PYTEST_ARGS)

# the no-cluster, no-root level on both cores (pytest-xdist): about a minute
unit: setup
	$(UV) run --frozen pytest tests/unit -n 2 -q $(PYTEST_ARGS)

crds: setup
	$(UV) run --frozen bedrock-model-operator crd --write crds
	cp crds/bedrock.modelops.io_*.yaml deploy/helm/bedrock-model-operator/crds/
	cp deploy/base/admission-policy.yaml deploy/helm/bedrock-model-operator/files/
	cp deploy/base/tenant-roles.yaml deploy/helm/bedrock-model-operator/files/
	cp deploy/monitoring/prometheus-rule.yaml deploy/monitoring/grafana-dashboard.json deploy/helm/bedrock-model-operator/files/

# the listed mutations (hack/mutants.py), each against the tests meant to catch it; kill rate per package
# branch coverage of controller/ over the whole suite, operator subprocesses included (docs/coverage.md)
coverage: setup control-plane helm promtool node-runtime
	rm -f .coverage .coverage.*
	$(UV) run --frozen coverage run -m pytest -q -p no:cacheprovider $(PYTEST_ARGS) || true
	$(UV) run --frozen coverage combine -q
	$(UV) run --frozen coverage report --skip-covered --sort=cover

mutants: setup control-plane helm
	$(UV) run --frozen python hack/mutants.py -j $(or $(JOBS),2) $(MUTANTS)
