#!/usr/bin/env bash
# Synchronous snapshot benchmark (`GET /<key>?ci-process=snapshot`): see bench.py.
# Builds the release binary, makes (once) a 10-minute 1080p30 H.264 file under bench/out/snapshot,
# then measures the server against bare ffmpeg on the same frame.
#   bash bench/snapshot/run.sh                  t=300 s, 20 requests each
#   bash bench/snapshot/run.sh --count 40       more samples
#   bash bench/snapshot/run.sh --multipart      also measure a multipart (composite) copy
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
cd "$root"
bash scripts/setup.sh >/dev/null
cargo build --release -p reelflow
src="bench/out/snapshot/src-1080p-600s.mp4"
if [[ ! -s "$src" ]]; then
    mkdir -p "$(dirname "$src")"
    echo "making $src (10 min of testsrc2 1080p30, GOP 2 s, x264 ultrafast; a few minutes) ..."
    ffmpeg -hide_banner -loglevel error -nostdin -y \
        -f lavfi -i testsrc2=size=1920x1080:rate=30 -t 600 \
        -c:v libx264 -preset ultrafast -g 60 -pix_fmt yuv420p -movflags +faststart \
        "$src.tmp.mp4"
    mv "$src.tmp.mp4" "$src"
fi
exec .venv/bin/python bench/snapshot/bench.py --bin "${REELFLOW_BIN:-target/release/reelflow}" --source "$src" "$@"
