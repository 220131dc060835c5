"""Dispatch benchmark (issue 10): what the engine itself costs per task, with tasks that do no
media work (`REELFLOW_BENCH_NOOP_TASKS=1`: each task succeeds as soon as it is claimed).

For SQLite (one process) and for PostgreSQL with 1, 2 and 4 worker processes:
  throughput  N runs of a one-node workflow are created by uploads while the bucket's queue is
              paused; the queue is resumed and the time until all N tasks are Success gives
              tasks/s claimed and completed (each through claim, finish, the run's end).
  latency     with the workers idle, uploads one at a time; upload -> task start is the time
              from sending the PUT to the worker's `claimed` log line (same clock), p50/p99.
Baseline in the same run, on the same PostgreSQL: a bare `FOR UPDATE SKIP LOCKED` claim-and-
complete loop (pgbench, 4 clients, two statements per claim like the engine's claim and
finish), single rows and batches of 50.

Usage: python bench/dispatch/bench.py --bin target/release/reelflow [--tasks 3000] [--latency 200]
Prints one line per measurement; exits 0 (goals are reported, not asserted).
"""

from __future__ import annotations

import argparse
import datetime as dt
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from cluster import BUCKET, Deployment, setting  # noqa: E402

CLAIMED = re.compile(r"^(\S+)\s+INFO task\{job_id=(j[0-9a-f]+)[^}]*\}: \S+: claimed", re.M)
FINISHED = re.compile(r"^(\S+)\s+INFO .*: task finished job_id=", re.M)
SLOTS = 8


def workflow(d: Deployment) -> None:
    nodes = {
        "Start": {"Type": "Start", "Input": {"ObjectPrefix": "in/"}},
        "MediaInfo_1": {"Type": "MediaInfo"},
    }
    deps = {"Start": "MediaInfo_1", "MediaInfo_1": "End"}
    body = {"MediaWorkflow": {"Name": "dispatch", "State": "Active", "Topology": {"Dependencies": deps, "Nodes": nodes}}}
    d.client.ci_create_workflow(Bucket=BUCKET, Body=body, ContentType="application/xml")


def upload_many(d: Deployment, prefix: str, n: int) -> float:
    start = time.perf_counter()
    with ThreadPoolExecutor(8) as pool:
        list(pool.map(lambda i: d.client.put_object(Bucket=BUCKET, Key=f"{prefix}{i:06d}.mp4", Body=b"x" * 256),
                      range(n)))
    return n / (time.perf_counter() - start)


def count_success(d: Deployment) -> int:
    return int(d.sql("SELECT COUNT(*) FROM tasks WHERE state = 'Success'")[0][0])


def throughput(d: Deployment, n: int) -> tuple[float, float]:
    """(uploads/s, tasks/s): N runs created with the queue paused, then drained."""
    queue = d.default_queue()
    d.set_queue(queue, "Paused")
    rate = upload_many(d, "in/t", n)
    start = time.time()
    d.set_queue(queue, "Active")
    # Polled slowly (each poll is a psql process and a table scan on the same 2 cores); the
    # drain's end is the last `task finished` line, whose timestamp is on the same clock.
    while (done := count_success(d)) < n:
        time.sleep(0.25)
    last = max(_utc(ts) for ts in FINISHED.findall(d.logs()))
    return rate, done / (last - start)


def latency(d: Deployment, n: int) -> tuple[list[float], list[float]]:
    """Upload -> task start in ms for `n` uploads sent one at a time to idle workers: from
    sending the PUT, and from its answer (negative when the task started before the client
    read the answer)."""
    sent: dict[str, tuple[float, float]] = {}
    base = count_success(d)
    for i in range(n):
        key = f"in/l{i:06d}.mp4"
        before = time.time()
        d.client.put_object(Bucket=BUCKET, Key=key, Body=b"x" * 256)
        sent[key] = (before, time.time())
        time.sleep(0.01)
    while count_success(d) < base + n:
        time.sleep(0.05)
    jobs = dict(d.sql("SELECT job_id, input_key FROM tasks WHERE input_key LIKE 'in/l%'"))
    claims = {job: _utc(ts) for ts, job in CLAIMED.findall(d.logs())}
    pairs = [(claims[j], sent[k]) for j, k in jobs.items() if j in claims]
    return (sorted((c - s[0]) * 1000 for c, s in pairs), sorted((c - s[1]) * 1000 for c, s in pairs))


def _utc(stamp: str) -> float:
    return dt.datetime.fromisoformat(stamp.replace("Z", "+00:00")).timestamp()


def pct(values: list[float], p: float) -> float:
    return values[min(len(values) - 1, int(round(p / 100 * (len(values) - 1))))]


def baseline(batch: int, clients: int = 4, seconds: int = 5) -> float:
    """Tasks/s of a bare SKIP LOCKED claim + complete loop on the test PostgreSQL."""
    root = setting("test-database-url")
    name = "rf_bench_baseline"
    subprocess.run(["psql", root, "-q", "-c", f"DROP DATABASE IF EXISTS {name}", "-c", f"CREATE DATABASE {name}"],
                   check=True)
    url = root.rsplit("/", 1)[0] + "/" + name
    subprocess.run(["psql", url, "-q", "-c",
                    "CREATE TABLE q (id BIGSERIAL PRIMARY KEY, state TEXT NOT NULL, owner INT);"
                    "CREATE INDEX q_submitted ON q (id) WHERE state = 'Submitted';"
                    "CREATE INDEX q_running ON q (owner) WHERE state = 'Running';"
                    "INSERT INTO q (state) SELECT 'Submitted' FROM generate_series(1, 2000000);",
                    "-c", "VACUUM ANALYZE q"], check=True)
    script = Path(tempfile.mkstemp(suffix=".sql")[1])
    script.write_text(
        "UPDATE q SET state = 'Running', owner = :client_id WHERE id IN "
        f"(SELECT id FROM q WHERE state = 'Submitted' ORDER BY id LIMIT {batch} FOR UPDATE SKIP LOCKED);\n"
        "UPDATE q SET state = 'Success' WHERE state = 'Running' AND owner = :client_id;\n")
    out = subprocess.run(["pgbench", "-n", "-c", str(clients), "-j", str(clients), "-T", str(seconds),
                          "-f", str(script), url], check=True, capture_output=True, text=True).stdout
    script.unlink()
    subprocess.run(["psql", root, "-q", "-c", f"DROP DATABASE IF EXISTS {name}"], check=False)
    tps = float(re.search(r"tps = ([0-9.]+)", out).group(1))
    return tps * batch


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--bin", default="target/release/reelflow")
    parser.add_argument("--tasks", type=int, default=3000)
    parser.add_argument("--latency", type=int, default=200)
    parser.add_argument("--slots", type=int, default=SLOTS, help="task slots per process")
    parser.add_argument("--configs", default="sqlite,pg1,pg2,pg4", help="which deployments")
    parser.add_argument("--no-baseline", action="store_true")
    args = parser.parse_args()
    if not args.no_baseline:
        print(f"baseline: bare SKIP LOCKED loop, 4 clients, single rows: {baseline(1):,.0f} tasks/s")
        print(f"baseline: bare SKIP LOCKED loop, 4 clients, batches of 50: {baseline(50):,.0f} tasks/s")
    for config in args.configs.split(","):
        backend, workers = ("sqlite", 0) if config == "sqlite" else ("postgres", int(config[2:]))
        work = Path(tempfile.mkdtemp(prefix="reelflow-dispatch-"))
        d = Deployment(args.bin, work, backend, workers, args.slots, env={"REELFLOW_BENCH_NOOP_TASKS": "1"})
        try:
            workflow(d)
            uploads, tasks = throughput(d, args.tasks)
            lat, after = latency(d, args.latency)
        finally:
            d.stop()
            shutil.rmtree(work, ignore_errors=True)
        label = "SQLite, 1 process" if backend == "sqlite" else f"PostgreSQL, {workers} worker process(es)"
        print(f"{label} x {args.slots} slots: {tasks:,.0f} tasks/s claimed+completed over {args.tasks} runs "
              f"(uploads {uploads:,.0f}/s); upload sent -> start p50 {pct(lat, 50):.1f} ms, p99 {pct(lat, 99):.1f} ms, "
              f"upload answered -> start p50 {pct(after, 50):.1f} ms, p99 {pct(after, 99):.1f} ms ({len(lat)} samples)")


if __name__ == "__main__":
    main()
