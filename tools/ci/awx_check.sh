#!/usr/bin/env bash
# AWX checks of `make test` (called from tools/ci/lint.sh):
#   tools/ci/awx_check.sh <bin dir of .venv-tools>
# .venv-tools holds the PyPI package `ansible`, whose awx.awx and ansible.windows collections the
# example playbooks need (Galaxy is not reachable from CI).
#  1. ansible-playbook --syntax-check of examples/awx/setup_awx.yml (awx.awx modules) and of the
#     AWX project's deploy.yml (imports msp.screenconnect.deploy_agent from this checkout);
#  2. ansible-builder create on examples/awx/msp-screenconnect-ee.yml writes a build context with a
#     Containerfile (no container engine needed);
#  3. tests/system/test_awx_credential.py on its own: the credential type rendered the way
#     AWX renders it (box untouched = TLS verified), and the AWX example files around it.
set -euo pipefail
tools=$(cd "$1" && pwd)
repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
export PATH="$tools:$PATH"
export ANSIBLE_NOCOLOR=1

scratch=$(mktemp -d)
trap 'rm -rf "$scratch"' EXIT

echo "== awx.awx and ansible.windows come with the ansible package"
collections=$(ANSIBLE_COLLECTIONS_PATH="$scratch/none" ansible-galaxy collection list awx.awx 2>/dev/null; \
    ANSIBLE_COLLECTIONS_PATH="$scratch/none" ansible-galaxy collection list ansible.windows 2>/dev/null) || true
for name in awx.awx ansible.windows; do
    grep -q "^$name " <<<"$collections" || {
        echo "$name is missing from $tools: tests/lint-requirements.txt needs the ansible package that bundles it" >&2
        exit 1
    }
done
grep -E '^(awx\.awx|ansible\.windows) ' <<<"$collections"

echo "== syntax-check examples/awx/setup_awx.yml"
(cd "$repo" && ANSIBLE_COLLECTIONS_PATH="$scratch/none" \
    ansible-playbook --syntax-check -i localhost, examples/awx/setup_awx.yml)

echo "== syntax-check examples/awx/project/deploy.yml"
mkdir -p "$scratch/collections/ansible_collections/msp"
ln -s "$repo" "$scratch/collections/ansible_collections/msp/screenconnect"
(cd "$repo" && ANSIBLE_COLLECTIONS_PATH="$scratch/collections" \
    ansible-playbook --syntax-check -i localhost, examples/awx/project/deploy.yml)

echo "== ansible-builder create -f examples/awx/msp-screenconnect-ee.yml"
context="$repo/build/awx-ee-context"
rm -rf "$context"
(cd "$repo" && ansible-builder create -f examples/awx/msp-screenconnect-ee.yml --context "$context" \
    --output-filename Containerfile)
test -s "$context/Containerfile" || { echo "ansible-builder wrote no Containerfile in $context" >&2; exit 1; }
for expected in 'quay.io/rockylinux/rockylinux:10' 'ansible-core>=2.20,<2.22' 'PYCMD="/usr/bin/python3"'; do
    grep -qF "$expected" "$context/Containerfile" || {
        echo "the Containerfile lacks $expected" >&2
        exit 1
    }
done
grep -q 'msp.screenconnect' "$context/_build/requirements.yml"
grep -q 'ansible.windows' "$context/_build/requirements.yml"
echo "Containerfile: $context/Containerfile"

echo "== the AWX credential type, rendered as AWX renders it"
(cd "$repo" && "$tools/python" tests/system/test_awx_credential.py)
echo "awx: all passed"
