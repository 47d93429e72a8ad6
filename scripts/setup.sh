#!/usr/bin/env bash
# One command for a fresh Debian 12 machine (as root): install everything, then run the main job.
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/install.sh
./scripts/demo.sh
