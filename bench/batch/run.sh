#!/usr/bin/env bash
# Batch (inventory) trigger benchmark: see bench.py. Builds the release binary first; needs the
# PostgreSQL cluster and moto S3 server of scripts/setup.sh for the PostgreSQL run.
#   bash bench/batch/run.sh                          10,000 objects, SQLite then PostgreSQL
#   bash bench/batch/run.sh --objects 2000           smaller
#   bash bench/batch/run.sh --backends postgres      one backend
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
cd "$root"
bash scripts/setup.sh >/dev/null
cargo build --release -p reelflow
exec .venv/bin/python bench/batch/bench.py --bin target/release/reelflow "$@"
