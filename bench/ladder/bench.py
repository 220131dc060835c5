"""Fused ladder on both backends (issue 10): a three-rendition ladder (720p/480p/360p from a
detailed 1080p source) through a workflow on two task slots, five runs each:

  SQLite      one process with 2 task slots, local files
  PostgreSQL  an API process and 2 worker processes of 1 slot each, bodies in the S3 test server

Every run must be fused: its three Transcode tasks claimed as one group and run as one ffmpeg
(checked from the `claimed tasks=N` log lines). Time per run (upload -> callback) is compared
with the three bare ffmpeg commands run concurrently, as three separate jobs would run, measured
interleaved in the same run.

Usage: python bench/ladder/bench.py --bin target/release/reelflow [--seconds 6] [--repeat 5]
"""

from __future__ import annotations

import argparse
import importlib.util
import re
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))
from cluster import BUCKET, Deployment  # noqa: E402

_spec = importlib.util.spec_from_file_location("workflow_bench", HERE.parent / "workflow" / "bench.py")
wb = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(wb)

CLAIMS = re.compile(r"node=(T\d)\}: \S+: claimed tasks=(\d+)")


def through(d: Deployment, receiver, src: Path, key: str) -> float:
    before = len(receiver.arrivals)
    start = time.perf_counter()
    with open(src, "rb") as f:
        d.client.put_object(Bucket=BUCKET, Key=key, Body=f)
    return receiver.wait(before + 1) - start


def run_backend(args, backend: str, src: Path, bare_cmds: list[list[str]], work: Path, receiver) -> None:
    workers, slots = (0, 2) if backend == "sqlite" else (2, 1)
    d = Deployment(args.bin, work / backend, backend, workers, slots, shared_blobs=True)
    try:
        ids = [d.client.ci_create_template(Bucket=BUCKET, Template=wb._template_dict(wb.TEMPLATES[k]))["Template"]["TemplateId"]
               for k in ("720p", "480p", "360p")]
        # bench/workflow's ladder helper names its bucket the same way.
        wb.BUCKET = BUCKET
        wb.workflow(d.client, "ladder", "ladder/", ids, receiver.url)
        through(d, receiver, src, "ladder/warm.mp4")
        flow, bare = [], []
        for i in range(args.repeat):
            flow.append(through(d, receiver, src, f"ladder/{i}.mp4"))
            bare.append(wb.bare(bare_cmds))
        claims = CLAIMS.findall(d.logs())
    finally:
        d.stop()
    groups = [int(n) for _, n in claims]
    fused = sum(1 for n in groups if n == 3)
    runs = args.repeat + 1
    verdict = "every run fused" if fused == runs and len(groups) == runs else f"NOT all fused: claims {groups}"
    f, b = statistics.median(flow), statistics.median(bare)
    label = "SQLite, 1 process x 2 slots" if backend == "sqlite" else "PostgreSQL + S3, 2 workers x 1 slot"
    print(f"{label}: {verdict} ({fused}/{runs} incl. warm-up); ladder {f:.2f}s "
          f"(runs {', '.join(f'{x:.2f}' for x in flow)}), 3 concurrent bare ffmpeg {b:.2f}s, ratio {f / b:.3f}")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--bin", default="target/release/reelflow")
    parser.add_argument("--seconds", type=int, default=6)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--backends", default="sqlite,postgres")
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="reelflow-ladder-"))
    try:
        src = work / "src1080.mp4"
        wb.make_source(src, "1920x1080", args.seconds)
        bare_cmds = [wb.ffmpeg_args(args.bin, wb.TEMPLATES[k], src, work / f"bare{k}.mp4", work)
                     for k in ("720p", "480p", "360p")]
        receiver = wb.Receiver()
        for backend in args.backends.split(","):
            run_backend(args, backend, src, bare_cmds, work, receiver)
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
