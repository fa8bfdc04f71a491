#!/usr/bin/env bash
# molecule dependency for the scenarios here: this checkout is the collection msp.screenconnect
# under the scenario's own collections path (ANSIBLE_COLLECTIONS_PATH in molecule.yml), as a link,
# so the scenarios test the working tree, wherever molecule runs from (the collection root or
# extensions/) and with nothing installed.
set -euo pipefail
scenario=${1:?usage: collection.sh SCENARIO_DIRECTORY EPHEMERAL_DIRECTORY (molecule.yml passes them)}
state=${2:?usage: collection.sh SCENARIO_DIRECTORY EPHEMERAL_DIRECTORY}
checkout=$(cd "$scenario/../../.." && pwd)
mkdir -p "$state/collections/ansible_collections/msp"
ln -sfn "$checkout" "$state/collections/ansible_collections/msp/screenconnect"
