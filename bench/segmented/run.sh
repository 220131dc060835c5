#!/usr/bin/env bash
# Segmented transcoding across worker processes pinned to cores: see bench.py. Builds the
# release binary and starts PostgreSQL and the S3 test server first.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
cd "$root"
bash scripts/setup.sh >/dev/null
cargo build --release -p reelflow
exec .venv/bin/python bench/segmented/bench.py --bin target/release/reelflow "$@"
