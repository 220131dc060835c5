#!/usr/bin/env bash
# The project's test command: setup, debug build, Rust tests, then the black-box e2e suite
# (tests/e2e, driven through the official cos-python-sdk-v5 against target/debug/reelflow).
#
#   bash scripts/test.sh                 everything
#   bash scripts/test.sh -k seed         extra arguments go to pytest
#
# Exits non-zero when any stage fails. The last line is a combined count:
#   summary: N passed, N failed, N skipped
set -uo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root" || exit 1

if ! command -v cargo >/dev/null 2>&1 && [ -f "$HOME/.cargo/env" ]; then
    # shellcheck disable=SC1091
    . "$HOME/.cargo/env"
fi

logdir="$(mktemp -d "${TMPDIR:-/tmp}/reelflow-test.XXXXXX")"
trap 'rm -rf "$logdir"' EXIT

passed=0
failed=0
skipped=0
stages=()
status=0

stage_done() { # name rc
    if [ "$2" -eq 0 ]; then
        stages+=("$1: ok")
    else
        stages+=("$1: FAILED (exit $2)")
        status=1
    fi
}

banner() { printf '\n==> %s\n' "$*"; }

# --- setup ----------------------------------------------------------------------------------
banner "setup"
bash scripts/setup.sh
rc=$?
stage_done setup "$rc"
if [ "$rc" -ne 0 ]; then
    failed=$((failed + 1))
    printf '%s\n' "${stages[@]}"
    printf 'summary: %d passed, %d failed\n' "$passed" "$failed"
    exit 1
fi

# The PostgreSQL test cluster setup.sh started: the store conformance suite runs against it.
if [ -z "${REELFLOW_TEST_DATABASE_URL:-}" ] && [ -s target/test-database-url ]; then
    REELFLOW_TEST_DATABASE_URL="$(cat target/test-database-url)"
    export REELFLOW_TEST_DATABASE_URL
fi

# The S3 test server setup.sh started: the BlobStore conformance suite runs against it.
if [ -z "${REELFLOW_TEST_S3_ENDPOINT:-}" ] && [ -s target/test-s3-url ]; then
    REELFLOW_TEST_S3_ENDPOINT="$(cat target/test-s3-url)"
    export REELFLOW_TEST_S3_ENDPOINT
fi

# --- build ----------------------------------------------------------------------------------
banner "cargo build -p reelflow"
cargo build -p reelflow
build_rc=$?
stage_done "cargo build" "$build_rc"
[ "$build_rc" -eq 0 ] || failed=$((failed + 1))

# --- Rust tests -----------------------------------------------------------------------------
banner "cargo test --workspace"
cargo test --workspace 2>&1 | tee "$logdir/cargo-test.log"
rc=${PIPESTATUS[0]}
stage_done "cargo test" "$rc"
# "test result: ok. 12 passed; 0 failed; 1 ignored; ..." once per test binary and doc-test run
read -r c_pass c_fail c_skip < <(
    sed -n 's/^test result: [A-Za-z]*\. \([0-9]*\) passed; \([0-9]*\) failed; \([0-9]*\) ignored.*/\1 \2 \3/p' \
        "$logdir/cargo-test.log" |
        awk '{p += $1; f += $2; s += $3} END {print p + 0, f + 0, s + 0}'
)
passed=$((passed + c_pass))
skipped=$((skipped + c_skip))
if [ "$rc" -ne 0 ] && [ "$c_fail" -eq 0 ]; then
    c_fail=1 # did not compile or crashed: count the stage itself
fi
failed=$((failed + c_fail))

# --- e2e ------------------------------------------------------------------------------------
if [ "$build_rc" -eq 0 ]; then
    banner "pytest tests/e2e"
    REELFLOW_BIN="${REELFLOW_BIN:-$root/target/debug/reelflow}" \
        .venv/bin/python -m pytest tests/e2e -v "$@" 2>&1 | tee "$logdir/pytest.log"
    rc=${PIPESTATUS[0]}
    stage_done "pytest e2e" "$rc"
    # closing line, e.g. "==== 2 failed, 30 passed, 1 skipped, 1 error in 61.20s ===="
    last="$(grep -E '^=+ .* in [0-9.]+s' "$logdir/pytest.log" | tail -n 1)"
    count() { printf '%s\n' "$last" | grep -oE "[0-9]+ $1" | head -n 1 | grep -oE '^[0-9]+' || echo 0; }
    p_pass=$(count passed)
    p_fail=$(($(count failed) + $(count 'errors?')))
    p_skip=$(count skipped)
    passed=$((passed + p_pass))
    skipped=$((skipped + p_skip))
    if [ "$rc" -ne 0 ] && [ "$p_fail" -eq 0 ]; then
        p_fail=1 # e.g. exit 5 (nothing collected) or an internal error
    fi
    failed=$((failed + p_fail))
else
    stages+=("pytest e2e: not run (build failed)")
fi

printf '\n'
printf '%s\n' "${stages[@]}"
if [ "$skipped" -gt 0 ]; then
    printf 'summary: %d passed, %d failed, %d skipped\n' "$passed" "$failed" "$skipped"
else
    printf 'summary: %d passed, %d failed\n' "$passed" "$failed"
fi
exit "$status"
