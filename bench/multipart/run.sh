#!/usr/bin/env bash
# Multipart upload benchmark: see bench.py. Builds the release binary first.
#   bash bench/multipart/run.sh                 2 GiB, 64 MiB parts, 4 in parallel, 3 repeats
#   bash bench/multipart/run.sh --size-mib 512  smaller
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
cd "$root"
bash scripts/setup.sh >/dev/null
cargo build --release -p reelflow
exec .venv/bin/python bench/multipart/bench.py --bin target/release/reelflow "$@"
