#!/usr/bin/env bash
# Builds and starts the service (release build). Arguments go to `reelflow serve`, e.g.
#
#   REELFLOW_SECRET_ID=AKID... REELFLOW_SECRET_KEY=... \
#       bash scripts/serve.sh --listen 127.0.0.1:9300 --data ./reelflow-data
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"

if ! command -v cargo >/dev/null 2>&1 && [ -f "$HOME/.cargo/env" ]; then
    # shellcheck disable=SC1091
    . "$HOME/.cargo/env"
fi

bash scripts/setup.sh --ffmpeg-only
cargo build --release -p reelflow
exec "$root/target/release/reelflow" serve "$@"
