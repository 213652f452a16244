#!/usr/bin/env bash
# Builds a virtual environment from a pinned lock in one pip run, cached by content hash.
# usage: tools/ensure-env.sh NAME PYTHON LOCKFILE
# The environment lives in $TSUNAGI_CACHE/envs/NAME-<hash> (outside the clone, so a fresh
# clone on the same machine reuses it) and .venv/NAME points at it.
set -euo pipefail
name=$1 python=$2 lock=$3
cache=${TSUNAGI_CACHE:-$HOME/.cache/tsunagi}
[ -x "$python" ] || { echo "ensure-env: interpreter $python not found" >&2; exit 1; }
pyver=$("$python" -c 'import sys; print(sys.version.split()[0])')
hash=$( (cat "$lock"; echo "$pyver") | sha256sum | cut -c1-12)
env="$cache/envs/$name-$hash"
if [ ! -f "$env/.complete" ]; then
  echo "ensure-env: building $name environment ($lock, Python $pyver) in $env"
  rm -rf "$env"
  mkdir -p "$cache/envs"
  "$python" -m venv "$env"
  "$env/bin/python" -m pip install --quiet --disable-pip-version-check --upgrade "pip<25"
  # One resolver run over the whole lock: installing anything later can break Rasa's pins.
  "$env/bin/python" -m pip install --disable-pip-version-check --no-input -r "$lock"
  touch "$env/.complete"
fi
mkdir -p .venv
ln -sfn "$env" ".venv/$name"
