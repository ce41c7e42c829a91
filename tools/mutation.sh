#!/usr/bin/env bash
# Mutation testing of one module of pinnkit's numerical core; see tools/mutation.py.
#   tools/mutation.sh MODULE [MUTANT-GLOB ...] [--score-only]
set -euo pipefail
cd "$(dirname "$0")/.."
exec python tools/mutation.py "$@"
