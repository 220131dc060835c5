#!/usr/bin/env bash
# Workflow benchmarks (a) and (b): see bench.py. Builds the release binary first.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
cd "$root"
bash scripts/setup.sh >/dev/null
cargo build --release -p reelflow
exec .venv/bin/python bench/workflow/bench.py --bin target/release/reelflow "$@"
