#!/usr/bin/env bash
# Dispatch benchmark: see bench.py. Builds the release binary and starts PostgreSQL first.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
cd "$root"
bash scripts/setup.sh >/dev/null
cargo build --release -p reelflow
exec .venv/bin/python bench/dispatch/bench.py --bin target/release/reelflow "$@"
