#!/usr/bin/env bash
# Re-resolves a lock file from its .in in one pip run in a throwaway environment.
# usage: tools/lock.sh NAME PYTHON IN LOCK
set -euo pipefail
name=$1 python=$2 in=$3 lock=$4
tmp=$(mktemp -d)
"$python" -m venv "$tmp/env"
"$tmp/env/bin/python" -m pip install --quiet --upgrade "pip<25"
"$tmp/env/bin/python" -m pip install --quiet -r "$in"
{ echo "# Generated from $in by: make lock-$name. Do not edit by hand."; "$tmp/env/bin/python" -m pip freeze; } > "$lock"
rm -rf "$tmp"
echo "lock: wrote $lock"
