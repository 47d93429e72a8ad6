#!/usr/bin/env bash
# Installs what Skiff needs on a Debian 12 machine: apt packages, then the project's venv (.venv).
# Idempotent and quick when everything is already there, so the test command can call it first.
set -euo pipefail
cd "$(dirname "$0")/.."

mapfile -t pkgs < <(grep -v -e '^#' -e '^$' scripts/apt-packages.txt)
missing=()
for p in "${pkgs[@]}"; do dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p"); done
if [ ${#missing[@]} -gt 0 ]; then
  echo "[install] apt: ${missing[*]}" >&2
  export DEBIAN_FRONTEND=noninteractive
  apt-get -o DPkg::Lock::Timeout=900 update -qq
  apt-get -o DPkg::Lock::Timeout=900 install -y -qq "${missing[@]}" >/dev/null
fi

# The venv is rebuilt when pyproject.toml changes (the stamp records the hash it was built from).
want=$(sha256sum pyproject.toml | cut -d' ' -f1)
if [ ! -x .venv/bin/python ] || [ "$(cat .venv/.skiff-stamp 2>/dev/null)" != "$want" ]; then
  echo "[install] venv: .venv" >&2
  [ -x .venv/bin/python ] || /usr/bin/python3.11 -m venv .venv
  .venv/bin/pip install -q --disable-pip-version-check -e '.[dev]'
  echo "$want" > .venv/.skiff-stamp
fi

# skiff-runtime: replace pip's console script with the -I -S launcher (fast start; see
# src/skiff/runtime/launcher.py). Cheap and idempotent, so it runs every time.
.venv/bin/python -m skiff.runtime.launcher .venv/bin/skiff-runtime
