#!/usr/bin/env bash
# Fused ladder on SQLite and on PostgreSQL + S3: see bench.py. Builds the release binary and
# starts PostgreSQL and the S3 test server first.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
cd "$root"
bash scripts/setup.sh >/dev/null
cargo build --release -p reelflow
exec .venv/bin/python bench/ladder/bench.py --bin target/release/reelflow "$@"
