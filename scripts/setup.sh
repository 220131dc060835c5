#!/usr/bin/env bash
# Prepares this machine for building, serving and testing reelflow. Idempotent and quick on re-run.
#
#   bash scripts/setup.sh               ffmpeg/ffprobe (apt, only when missing) + .venv for tests/e2e
#   bash scripts/setup.sh --ffmpeg-only only the media tools (what `reelflow serve` needs at run time)
#
# The venv is rebuilt only when it is missing or broken, and pip runs only when
# requirements-test.txt changed since the last successful install (a hash stamp in .venv).
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"

ffmpeg_only=0
for arg in "$@"; do
    case "$arg" in
        --ffmpeg-only) ffmpeg_only=1 ;;
        -h | --help)
            sed -n '2,8p' "$0"
            exit 0
            ;;
        *)
            echo "setup.sh: unknown argument: $arg" >&2
            exit 2
            ;;
    esac
done

log() { printf 'setup: %s\n' "$*"; }

sudo_cmd=()
if [ "$(id -u)" -ne 0 ]; then
    sudo_cmd=(sudo)
fi

apt_updated=0
apt_install() {
    if [ "$apt_updated" -eq 0 ]; then
        log "apt-get update"
        "${sudo_cmd[@]}" env DEBIAN_FRONTEND=noninteractive apt-get update -q
        apt_updated=1
    fi
    log "apt-get install -y $*"
    "${sudo_cmd[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -q "$@"
}

# --- media tools --------------------------------------------------------------------------
if command -v ffmpeg >/dev/null 2>&1 && command -v ffprobe >/dev/null 2>&1; then
    log "ffmpeg present: $(ffmpeg -hide_banner -version | head -n 1)"
else
    apt_install ffmpeg
fi

if [ "$ffmpeg_only" -eq 1 ]; then
    exit 0
fi

# --- python venv for tests/e2e --------------------------------------------------------------
python="${PYTHON:-python3}"
if ! command -v "$python" >/dev/null 2>&1; then
    apt_install python3 python3-venv
fi

venv="$root/.venv"
req="$root/requirements-test.txt"
stamp="$venv/.requirements-test.sha256"

if [ ! -x "$venv/bin/python" ] || ! "$venv/bin/python" -c 'import sys' >/dev/null 2>&1; then
    rm -rf "$venv"
    if ! "$python" -m venv "$venv" >/dev/null 2>&1; then
        # Debian's system python ships venv/ensurepip in a separate package.
        rm -rf "$venv"
        apt_install python3-venv
        "$python" -m venv "$venv"
    fi
    log "created $venv ($("$venv/bin/python" --version 2>&1))"
fi

want="$(sha256sum "$req" | cut -d' ' -f1)"
have="$(cat "$stamp" 2>/dev/null || true)"
if [ "$want" = "$have" ] && "$venv/bin/python" -c 'import qcloud_cos, pytest, requests' >/dev/null 2>&1; then
    log "python test requirements already installed"
else
    log "pip install -r requirements-test.txt"
    "$venv/bin/python" -m pip install --disable-pip-version-check --no-input -q -r "$req"
    printf '%s\n' "$want" >"$stamp"
fi
