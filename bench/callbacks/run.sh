#!/usr/bin/env bash
# Callback delivery benchmark (see README.md, "Callbacks"). Results go to bench/out/.
#   bash bench/callbacks/run.sh                   10,000 instances, drain + live (max rate and 1,000/s)
#   bash bench/callbacks/run.sh --instances 2000  fewer
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/../.." && pwd)"
mkdir -p "$root/bench/out"
cargo run --release --quiet --manifest-path "$here/Cargo.toml" --target-dir "$root/target/bench" -- \
    --out "$root/bench/out/callbacks.json" "$@"
