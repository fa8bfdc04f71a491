#!/usr/bin/env bash
# Docs, changelog and execution-environment checks of `make test`.
#   tools/ci/lint.sh <bin dir of .venv-tools> <collections path holding the installed collection>
# (ansible-lint --profile production runs in tests/integration/test_role.py, which has the
# ansible.windows collection the role's Windows tasks need.)
set -euo pipefail
tools=$1
installed=$2
repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
export PATH="$tools:$PATH"

echo "== antsibull-changelog lint"
(cd "$repo" && antsibull-changelog lint)

echo "== antsibull-docs lint-collection-docs (modules, inventory, filter, role argument specs)"
(cd "$installed/ansible_collections/msp/screenconnect" && antsibull-docs lint-collection-docs --plugin-docs .)

echo "== ansible-doc renders every plugin and the role"
export ANSIBLE_COLLECTIONS_PATH="$installed"
for module in api_call installer_url session session_command session_info session_message session_note \
        session_properties; do
    ansible-doc "msp.screenconnect.$module" >/dev/null
done
ansible-doc -t inventory msp.screenconnect.screenconnect >/dev/null
ansible-doc -t filter msp.screenconnect.installer_url >/dev/null
ansible-doc -t role msp.screenconnect.agent >/dev/null

echo "== ansible-builder introspect reads the execution-environment requirements"
introspect=$(ansible-builder introspect --sanitize "$installed")
echo "$introspect"
grep -q "requests.*msp.screenconnect" <<<"$introspect" || {
    echo "ansible-builder did not find msp.screenconnect's python requirement (requests)" >&2
    exit 1
}
echo "lint: all passed"
