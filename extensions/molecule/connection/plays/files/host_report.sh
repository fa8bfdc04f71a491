#!/bin/sh
# Run by the script module over the ScreenConnect connection: says where it runs and with which
# arguments, on stdout and stderr, and exits with the code it was given.
. /etc/os-release
echo "script on $(uname -n) ($VERSION_CODENAME) as $(id -un), args: $*"
echo "script stderr" >&2
exit "${2:-0}"
