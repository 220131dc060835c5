#!/usr/bin/env bash
# Prepares this machine for building, serving and testing reelflow. Idempotent and quick on re-run.
#
#   bash scripts/setup.sh               everything the e2e suite needs (below)
#   bash scripts/setup.sh --ffmpeg-only only the media tools (what `reelflow serve` needs at run time)
#
# Everything comes from registries only (Debian apt, PyPI, npm), pinned:
#   ffmpeg/ffprobe, rclone, openssl      apt, only when missing
#   .venv                                requirements-test.txt (cos-python-sdk-v5, boto3, pytest, ...)
#   .venv-awscli                         tests/e2e/requirements-awscli.txt (AWS CLI v1, its own pins)
#   tests/e2e/sdk_node/node_modules      `npm ci` of the lock file (cos-nodejs-sdk-v5); node/npm via apt if missing
# A venv is rebuilt only when missing or broken; pip and npm run only when their requirement file
# changed since the last successful install (a sha256 stamp next to what they installed).
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"

ffmpeg_only=0
for arg in "$@"; do
    case "$arg" in
        --ffmpeg-only) ffmpeg_only=1 ;;
        -h | --help)
            sed -n '2,14p' "$0"
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

# --- command-line clients --------------------------------------------------------------------
if command -v rclone >/dev/null 2>&1; then
    log "rclone present: $(rclone version 2>/dev/null | head -n 1)"
else
    apt_install rclone
fi

# openssl makes the self-signed certificate of the HTTPS (aws-chunked) boto3 test
command -v openssl >/dev/null 2>&1 || apt_install openssl

if command -v node >/dev/null 2>&1 && command -v npm >/dev/null 2>&1; then
    log "node present: $(node --version), npm $(npm --version)"
else
    apt_install nodejs npm
fi

# --- python venvs ------------------------------------------------------------------------------
python="${PYTHON:-python3}"
if ! command -v "$python" >/dev/null 2>&1; then
    apt_install python3 python3-venv
fi

stamp_of() { sha256sum "$1" | cut -d' ' -f1; }

# make_venv DIR: (re)creates DIR unless it holds a working interpreter.
make_venv() {
    local venv="$1"
    if [ -x "$venv/bin/python" ] && "$venv/bin/python" -c 'import sys' >/dev/null 2>&1; then
        return 0
    fi
    rm -rf "$venv"
    if ! "$python" -m venv "$venv" >/dev/null 2>&1; then
        # Debian's system python ships venv/ensurepip in a separate package.
        rm -rf "$venv"
        apt_install python3-venv
        "$python" -m venv "$venv"
    fi
    # git ignores the venv whatever .gitignore says (Python >= 3.13 writes this file itself)
    printf '*\n' >"$venv/.gitignore"
    log "created $venv ($("$venv/bin/python" --version 2>&1))"
}

# pip_sync VENV REQUIREMENTS CHECK: pip install -r REQUIREMENTS unless the stamp matches and
# CHECK (a shell command run with the venv's bin first on PATH) succeeds.
pip_sync() {
    local venv="$1" req="$2" check="$3"
    local stamp="$venv/.$(basename "$req").sha256"
    local want have
    want="$(stamp_of "$req")"
    have="$(cat "$stamp" 2>/dev/null || true)"
    if [ "$want" = "$have" ] && PATH="$venv/bin:$PATH" bash -c "$check" >/dev/null 2>&1; then
        log "$(basename "$req") already installed in $(basename "$venv")"
        return 0
    fi
    log "pip install -r ${req#"$root"/} into $(basename "$venv")"
    "$venv/bin/python" -m pip install --disable-pip-version-check --no-input -q -r "$req"
    printf '%s\n' "$want" >"$stamp"
}

make_venv "$root/.venv"
pip_sync "$root/.venv" "$root/requirements-test.txt" \
    "python -c 'import qcloud_cos, pytest, requests, boto3, crcmod'"

# The AWS CLI v1 pins (and vendors) its own botocore: keep it out of .venv.
make_venv "$root/.venv-awscli"
pip_sync "$root/.venv-awscli" "$root/tests/e2e/requirements-awscli.txt" "aws --version"

# --- cos-nodejs-sdk-v5 for tests/e2e/sdk_node ---------------------------------------------------
node_dir="$root/tests/e2e/sdk_node"
node_stamp="$node_dir/node_modules/.package-lock.sha256"
want="$(stamp_of "$node_dir/package-lock.json")"
have="$(cat "$node_stamp" 2>/dev/null || true)"
if [ "$want" = "$have" ] && [ -f "$node_dir/node_modules/cos-nodejs-sdk-v5/package.json" ]; then
    log "cos-nodejs-sdk-v5 already installed in tests/e2e/sdk_node"
else
    log "npm ci in tests/e2e/sdk_node"
    (cd "$node_dir" && npm ci --no-audit --no-fund --loglevel=error)
    printf '%s\n' "$want" >"$node_stamp"
fi
