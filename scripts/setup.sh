#!/usr/bin/env bash
# Prepares this machine for building, serving and testing reelflow. Idempotent and quick on re-run.
#
#   bash scripts/setup.sh                 everything the test suites need (below)
#   bash scripts/setup.sh --ffmpeg-only   only the media tools (what `reelflow serve` needs at run time)
#   bash scripts/setup.sh --postgres-only only the PostgreSQL test cluster
#
# Everything comes from registries only (Debian apt, PyPI, npm), pinned:
#   ffmpeg/ffprobe, rclone, openssl      apt, only when missing
#   chromium, chromium-driver            apt, only when missing (the web console's Selenium test)
#   postgresql                           apt, only when missing; a private test cluster is started
#                                        (see "PostgreSQL" below) and its URL written to
#                                        target/test-database-url for scripts/test.sh
#   .venv                                requirements-test.txt (cos-python-sdk-v5, boto3, pytest, moto, ...)
#   moto S3 test server                  from .venv, started on 127.0.0.1 (see "S3 test server" below)
#                                        and its URL written to target/test-s3-url for scripts/test.sh
#   .venv-awscli                         tests/e2e/requirements-awscli.txt (AWS CLI v1, its own pins)
#   tests/e2e/sdk_node/node_modules      `npm ci` of the lock file (cos-nodejs-sdk-v5); node/npm via apt if missing
# A venv is rebuilt only when missing or broken; pip and npm run only when their requirement file
# changed since the last successful install (a sha256 stamp next to what they installed).
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"

ffmpeg_only=0
postgres_only=0
for arg in "$@"; do
    case "$arg" in
        --ffmpeg-only) ffmpeg_only=1 ;;
        --postgres-only) postgres_only=1 ;;
        -h | --help)
            sed -n '2,18p' "$0"
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

# --- PostgreSQL (the store conformance suite) ---------------------------------------------------
# A throwaway cluster of our own, not the distribution's `main` one: initdb'd into
# $REELFLOW_TEST_PG_DIR (default /var/tmp/reelflow-test-pg, outside the checkout so the
# postgres user can reach it) as that user when run as root, trust authentication on
# 127.0.0.1:$REELFLOW_TEST_PG_PORT (default 55432) and a socket in that directory only, fsync off
# (nothing in it needs to survive a crash). Started when not running; the database
# reelflow_test is created once. Tests make a schema each. With REELFLOW_TEST_DATABASE_URL
# already set, that server is used instead and nothing is started.
setup_postgres() {
    local url_file="$root/target/test-database-url"
    mkdir -p "$root/target"
    if [ -n "${REELFLOW_TEST_DATABASE_URL:-}" ]; then
        log "PostgreSQL: using REELFLOW_TEST_DATABASE_URL from the environment"
        printf '%s\n' "$REELFLOW_TEST_DATABASE_URL" >"$url_file"
        return 0
    fi
    local pg_bin
    pg_bin="$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1)"
    if [ -z "$pg_bin" ] || [ ! -x "$pg_bin/initdb" ]; then
        apt_install postgresql
        pg_bin="$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -n 1)"
    fi
    local dir="${REELFLOW_TEST_PG_DIR:-/var/tmp/reelflow-test-pg}"
    local port="${REELFLOW_TEST_PG_PORT:-55432}"
    local as_pg=()
    if [ "$(id -u)" -eq 0 ]; then
        as_pg=(runuser -u postgres --)
    fi
    mkdir -p "$dir"
    [ "${#as_pg[@]}" -eq 0 ] || chown postgres: "$dir"
    (
        # One setup at a time per cluster (parallel checkouts share it); the server must not
        # inherit the lock (9>&- below).
        flock 9
        if [ ! -f "$dir/data/PG_VERSION" ]; then
            log "PostgreSQL: initdb $dir/data ($("$pg_bin/postgres" --version))"
            rm -rf "$dir/data"
            "${as_pg[@]}" "$pg_bin/initdb" -D "$dir/data" -U reelflow -A trust -E UTF8 \
                --locale=C.UTF-8 >"$dir/initdb.log" 2>&1 9>&- || {
                cat "$dir/initdb.log" >&2
                exit 1
            }
        fi
        if "${as_pg[@]}" "$pg_bin/pg_ctl" -D "$dir/data" status >/dev/null 2>&1; then
            log "PostgreSQL: test cluster running on 127.0.0.1:$port"
        else
            log "PostgreSQL: starting the test cluster on 127.0.0.1:$port"
            "${as_pg[@]}" "$pg_bin/pg_ctl" -D "$dir/data" -l "$dir/server.log" -w -t 60 \
                -o "-p $port -k $dir -c listen_addresses=127.0.0.1 -c max_connections=300 \
                    -c fsync=off -c synchronous_commit=off -c full_page_writes=off" \
                start >/dev/null 9>&- || {
                tail -n 30 "$dir/server.log" >&2
                exit 1
            }
        fi
        local psql=("$pg_bin/psql" -X -q -v ON_ERROR_STOP=1 -h 127.0.0.1 -p "$port" -U reelflow)
        if [ "$("${psql[@]}" -d postgres -Atc \
            "SELECT 1 FROM pg_database WHERE datname = 'reelflow_test'")" != 1 ]; then
            "${psql[@]}" -d postgres -c "CREATE DATABASE reelflow_test"
        fi
    ) 9>"$dir.lock" || return 1
    printf 'postgres://reelflow@127.0.0.1:%s/reelflow_test\n' "$port" >"$url_file"
    log "PostgreSQL: REELFLOW_TEST_DATABASE_URL in ${url_file#"$root"/}"
}

# --- S3 test server (the BlobStore conformance suite) ------------------------------------------
# moto's S3 server (`moto_server`, installed into .venv from requirements-test.txt), in memory, on
# 127.0.0.1:$REELFLOW_TEST_S3_PORT (default 59000); started unless an S3 server already answers
# there, its log and pid in target/moto/. Tests make their own bucket and a prefix each, so one
# server can be shared. With REELFLOW_TEST_S3_ENDPOINT already set, that server is used instead
# and nothing is started.
s3_answers() { # URL: any HTTP answer to a ListBuckets request
    "$root/.venv/bin/python" - "$1" <<'PY' >/dev/null 2>&1
import sys, urllib.error, urllib.request
try:
    urllib.request.urlopen(sys.argv[1] + "/", timeout=2)
except urllib.error.HTTPError:
    pass
PY
}

setup_s3() {
    local url_file="$root/target/test-s3-url"
    mkdir -p "$root/target"
    if [ -n "${REELFLOW_TEST_S3_ENDPOINT:-}" ]; then
        log "S3: using REELFLOW_TEST_S3_ENDPOINT from the environment"
        printf '%s\n' "$REELFLOW_TEST_S3_ENDPOINT" >"$url_file"
        return 0
    fi
    local port="${REELFLOW_TEST_S3_PORT:-59000}"
    local url="http://127.0.0.1:$port"
    local dir="$root/target/moto"
    mkdir -p "$dir"
    (
        flock 9
        if s3_answers "$url"; then
            log "S3: test server running on $url"
        else
            log "S3: starting moto_server on $url"
            # Detached (own session) so it outlives this script, like the PostgreSQL cluster.
            setsid "$root/.venv/bin/moto_server" -H 127.0.0.1 -p "$port" \
                </dev/null >"$dir/server.log" 2>&1 9>&- &
            printf '%s\n' "$!" >"$dir/pid"
            local i
            for i in $(seq 1 100); do
                s3_answers "$url" && break
                if ! kill -0 "$(cat "$dir/pid")" 2>/dev/null || [ "$i" -eq 100 ]; then
                    echo "setup: moto_server did not start on $url" >&2
                    tail -n 30 "$dir/server.log" >&2
                    exit 1
                fi
                sleep 0.2
            done
        fi
    ) 9>"$dir/lock" || return 1
    printf '%s\n' "$url" >"$url_file"
    log "S3: REELFLOW_TEST_S3_ENDPOINT in ${url_file#"$root"/}"
}

if [ "$postgres_only" -eq 1 ]; then
    setup_postgres
    exit 0
fi

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

# Debian's Chromium + ChromeDriver drive the web console test (tests/e2e/test_console.py);
# test tools never download a browser of their own.
if [ -x /usr/bin/chromium ] && [ -x /usr/bin/chromedriver ]; then
    log "chromium present: $(/usr/bin/chromium --version 2>/dev/null | head -n 1)"
else
    apt_install chromium chromium-driver
fi

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
    "python -c 'import qcloud_cos, pytest, requests, boto3, crcmod, moto, flask_cors'"

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

setup_postgres
setup_s3
