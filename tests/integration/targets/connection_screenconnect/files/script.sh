#!/bin/sh
# run by the script module over the connection
echo "script ran with $# arguments: $*"
echo "to stderr" >&2
