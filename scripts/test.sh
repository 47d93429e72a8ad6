#!/usr/bin/env bash
# The whole test suite, as CI runs it: install (idempotent), architecture and lint checks, then pytest.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install.sh
export PATH="$PWD/.venv/bin:$PATH"
echo "== import contracts"; lint-imports --no-cache
echo "== ruff";             ruff check src tests bench
echo "== mypy";             mypy
echo "== pytest";           pytest -q -p no:cacheprovider "$@"
