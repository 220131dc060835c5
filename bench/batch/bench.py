"""Batch (inventory) trigger throughput, measured in one run on this machine.

N tiny objects (a 0.2 s 64x64 H.264 clip, ~5 KB) are uploaded under `in/` of one bucket with a
Paused one-node MediaInfo workflow (uploads start nothing), then one batch
(`ci_create_inventory_trigger_jobs`, Input.Prefix `in/`) runs the workflow on all of them:

* SQLite: one `reelflow serve` (role all, default workers, local blobs);
* PostgreSQL: one `--role api` process (takes the uploads and the batch call) and two
  `--role worker` processes (run the batch driver and the tasks), all on one database and the
  moto S3 server of scripts/setup.sh as the shared blob store (as tests/e2e/test_cluster.py).

Printed per backend:
* first start: submit (just before the create call) → the first task claimed, from the
  workers' log timestamps (µs);
* created/s: N ÷ (submit → the batch's Statistics.Submitted reaching N), polled every 20 ms (then every 250 ms);
* end-to-end objects/s: N ÷ (submit → batch State Success, every instance terminal).

`--noop` sets REELFLOW_BENCH_NOOP_TASKS=1 (tasks succeed without running ffprobe), so the
end-to-end rate is the orchestration's: batch listing, instance creation, claims and task-finish
transactions. `--created-only` stops once every instance exists.

`--in-flight` sets REELFLOW_BATCH_MAX_IN_FLIGHT (default here: N, so creation is not held back
by the flood window and the two phases are measured separately; the service default is 1000).
Exits 0: goals are reported, not asserted.

Usage: python bench.py --bin target/release/reelflow [--objects 10000] [--backends sqlite,postgres]
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO / "bench"))
from cluster import BUCKET, Deployment  # noqa: E402


def tiny_clip(path: Path) -> bytes:
    subprocess.run(
        ["ffmpeg", "-hide_banner", "-loglevel", "error", "-y", "-f", "lavfi", "-i", "testsrc2=size=64x64:rate=10",
         "-t", "0.2", "-c:v", "libx264", "-pix_fmt", "yuv420p", str(path)],
        check=True,
    )
    return path.read_bytes()


def first_claim_after(logs: list[Path], t0: float) -> float | None:
    """Seconds from `t0` (Unix time) to the first `claimed` line in the workers' logs."""
    stamps = []
    for log in logs:
        for line in log.read_text(errors="replace").splitlines():
            if ": claimed" in line:
                ts = dt.datetime.fromisoformat(line.split()[0].replace("Z", "+00:00")).timestamp()
                if ts >= t0 - 1:
                    stamps.append(ts)
                    break
    return min(stamps) - t0 if stamps else None


def run_one(
    label: str, binary: str, n: int, clip: bytes, in_flight: int, postgres: bool, created_only: bool = False,
    noop: bool = False, slots: int | None = None,
) -> dict:
    base = Path(tempfile.mkdtemp(prefix=f"rf-batch-{label}-"))
    common = {"REELFLOW_BATCH_MAX_IN_FLIGHT": str(in_flight)}
    if noop:
        common["REELFLOW_BENCH_NOOP_TASKS"] = "1"
    # Two workers on PostgreSQL, one process on SQLite; the service's slot (unless --slots) and
    # queue defaults.
    deployment = Deployment(binary, base, "postgres" if postgres else "sqlite", 2, slots, env=common, shared_blobs=True,
                   queue_max_concurrent=None)
    try:
        logs = [w.log for w in deployment.workers] or [deployment.api.log]
        client = deployment.client
        start = time.perf_counter()
        with ThreadPoolExecutor(16) as pool:
            list(pool.map(lambda i: client.put_object(Bucket=BUCKET, Key=f"in/{i:05d}.mp4", Body=clip), range(n)))
        upload_s = time.perf_counter() - start
        wf = client.ci_create_workflow(Bucket=BUCKET, ContentType="application/xml", Body={"MediaWorkflow": {
            "Name": "bench", "State": "Paused", "Topology": {
                "Dependencies": {"Start": "MediaInfo_1", "MediaInfo_1": "End"},
                "Nodes": {"Start": {"Type": "Start", "Input": {"ObjectPrefix": "in/"}},
                          "MediaInfo_1": {"Type": "MediaInfo"}}}}})["MediaWorkflow"]["WorkflowId"]
        body = {"Name": "bench", "Type": "Workflow", "Input": {"Prefix": "in/"}, "Operation": {"WorkflowIds": wf}}
        t0_wall, t0 = time.time(), time.perf_counter()
        batch_id = client.ci_create_inventory_trigger_jobs(Bucket=BUCKET, JobBody=body)["JobsDetail"][0]["JobId"]
        create_ms = (time.perf_counter() - t0) * 1000
        created_s = None
        while True:
            d = client.ci_get_inventory_trigger_jobs(Bucket=BUCKET, JobID=batch_id)["JobsDetail"][0]
            if created_s is None and int(d["Statistics"]["Submitted"]) >= n:
                created_s = time.perf_counter() - t0
            if d["State"] in ("Success", "Failed", "Cancel") or (created_only and created_s is not None):
                break
            # Fine polling until every instance exists, then lighter (the GET reads progress).
            time.sleep(0.02 if created_s is None else 0.25)
        total_s = None if created_only else time.perf_counter() - t0
        first = first_claim_after(logs, t0_wall)
        return {
            "backend": label, "noop_tasks": noop, "objects": n, "upload_s": round(upload_s, 2), "state": d["State"],
            "statistics": d["Statistics"], "create_call_ms": round(create_ms, 1),
            "first_start_ms": None if first is None else round(first * 1000, 1),
            "created_s": round(created_s, 2), "created_per_s": round(n / created_s),
            "end_to_end_s": total_s and round(total_s, 2), "objects_per_s": total_s and round(n / total_s, 1),
        }
    finally:
        deployment.stop()


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--bin", required=True)
    ap.add_argument("--objects", type=int, default=10_000)
    ap.add_argument("--in-flight", type=int, default=0, help="REELFLOW_BATCH_MAX_IN_FLIGHT (0: = objects)")
    ap.add_argument("--backends", default="sqlite,postgres")
    ap.add_argument("--noop", action="store_true",
                    help="REELFLOW_BENCH_NOOP_TASKS=1: tasks succeed without ffprobe (orchestration only)")
    ap.add_argument("--slots", type=int, default=None, help="REELFLOW_WORKERS per process (default: the service's)")
    ap.add_argument("--created-only", action="store_true",
                    help="stop once every instance is created (first start and creation rate only)")
    args = ap.parse_args()
    clip = tiny_clip(Path(tempfile.mkdtemp()) / "tiny.mp4")
    in_flight = args.in_flight or args.objects
    results = []
    for backend in args.backends.split(","):
        r = run_one(backend, args.bin, args.objects, clip, in_flight, backend == "postgres", args.created_only, args.noop,
                    args.slots)
        print(json.dumps(r), flush=True)
        results.append(r)
    out = REPO / "bench" / "out"
    out.mkdir(exist_ok=True)
    name = "batch-created.json" if args.created_only else "batch-noop.json" if args.noop else "batch.json"
    (out / name).write_text(json.dumps(results, indent=2) + "\n")
    for r in results:
        print(
            f"{r['backend']:>8} ({args.slots or 'default'} slots): {r['objects']} objects ({r['state']}); first task claimed "
            f"{r['first_start_ms']} ms after submit (goal <= 100); {r['created_per_s']} instances created/s "
            f"(goal >= 1000 on PostgreSQL); {r['objects_per_s']} objects/s submit -> all terminal"
        )


if __name__ == "__main__":
    main()
