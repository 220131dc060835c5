#!/usr/bin/env bash
# SmartCover benchmark: SmartCover (Count 3) on 5- and 20-minute 720p sources vs
# ffmpeg's `thumbnail` filter over the whole 5-minute file. Sources and outputs go to
# bench/out/media (git-ignored) and are reused by later runs.
#
#   bash bench/media/smartcover.sh [--runs N]
set -euo pipefail
cd "$(dirname "$0")/../.."
command -v ffmpeg >/dev/null || { echo "ffmpeg is required (apt-get install -y ffmpeg)" >&2; exit 1; }
cargo build --release -q -p reelflow-media --example smartcover_bench
exec target/release/examples/smartcover_bench bench/out/media "$@"
