#!/usr/bin/env bash
# ansible-rulebook's rule engine (drools, through jpy) needs Java 17 or newer. Where it is missing,
# install Debian's openjdk-17-jre-headless (root only); otherwise say in one line what to do.
set -euo pipefail
version() { java -version 2>&1 | sed -n 's/.* version "\([0-9]*\).*/\1/p' | head -1; }
major=$(version || true)
if [ -n "$major" ] && [ "$major" -ge 17 ]; then
	exit 0
fi
if [ "$(id -u)" -ne 0 ] || ! command -v apt-get >/dev/null; then
	echo "ansible-rulebook needs Java 17+ (found: ${major:-none}); install openjdk-17-jre-headless" >&2
	exit 1
fi
DEBIAN_FRONTEND=noninteractive apt-get install -y -q openjdk-17-jre-headless >/dev/null ||
	{ apt-get update -q >/dev/null && DEBIAN_FRONTEND=noninteractive apt-get install -y -q openjdk-17-jre-headless >/dev/null; }
major=$(version || true)
[ -n "$major" ] && [ "$major" -ge 17 ] || { echo "Java 17+ still missing after installing openjdk-17-jre-headless" >&2; exit 1; }
