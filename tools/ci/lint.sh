#!/usr/bin/env bash
# The ecosystem's own checks of `make test`, run as they come: ansible-lint from the repository root,
# Galaxy's importer on the built artifact, docs, changelog and execution-environment checks.
#   tools/ci/lint.sh <bin dir of .venv-tools> <collections path holding the installed collection> <artifact>
set -euo pipefail
tools=$1
installed=$2
artifact=$(cd "$(dirname "$3")" && pwd)/$(basename "$3")
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
echo "== ansible-lint --profile production, from the repository root (config: .ansible-lint)"
# As from a fresh clone: without the collections path set above, ansible-lint installs this checkout
# into .ansible/ itself (see .ansible-lint).
(cd "$repo" && env -u ANSIBLE_COLLECTIONS_PATH ansible-lint --profile production --nocolor)

echo "== galaxy-importer, Galaxy's import check, on $artifact"
# No container engine here: ansible-test is off (make test runs it), ansible-lint on, as Galaxy's
# own import runs it. Any WARNING or ERROR line fails the check.
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
printf '[galaxy-importer]\nRUN_ANSIBLE_TEST = False\nRUN_ANSIBLE_LINT = True\n' >"$work/galaxy-importer.cfg"
importer=$(cd "$work" && GALAXY_IMPORTER_CONFIG=$work/galaxy-importer.cfg python -m galaxy_importer.main "$artifact" 2>&1) || {
    echo "$importer"
    exit 1
}
echo "$importer" | grep -v '^Loading '
if grep -v '^Loading ' <<<"$importer" | grep -iE '\b(warning|error)' >&2; then
    echo "galaxy-importer printed the warnings or errors above" >&2
    exit 1
fi
grep -q '^Importer processing completed successfully' <<<"$importer"

echo "== AWX: credential type, setup playbook syntax, execution environment build context"
"$repo/tools/ci/awx_check.sh" "$tools"

echo "lint: all passed"
