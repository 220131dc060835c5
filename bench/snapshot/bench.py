"""Latency of `GET /<key>?ci-process=snapshot` against bare ffmpeg, measured in one run.

A release build of reelflow is started on a fresh data directory; --source (a long 1080p H.264
mp4) is uploaded with the official COS Python SDK's `put_object` (one PUT, so the object is a
plain blob that ffmpeg reads in place). Then, interleaved so background load hits both alike:

* server: `client.get_snapshot(Time=T)` (the SDK sends format=jpg, rotate=auto,
  mode=exactframe), timed from the call until the last body byte;
* bare:   `ffmpeg -ss T -i <source> -frames:v 1 out.jpg`, timed around the process.

Prints p50/p90 of each over --count requests (after --warmup unmeasured ones), the p50 ratio
(goal <= 1.2) and the server p50 (goal < 300 ms). With --multipart the file is also uploaded
with `upload_file` (a multipart, composite object that ffmpeg reads through the server's
loopback range server) and measured the same way. Exits 0: goals are reported, not asserted.

Usage: python bench.py --bin target/release/reelflow --source big.mp4 [--time 300] [--count 20]
"""

from __future__ import annotations

import argparse
import os
import secrets
import shutil
import socket
import statistics
import struct
import subprocess
import tempfile
import time
from pathlib import Path

from qcloud_cos import CosConfig, CosS3Client

BUCKET = "bench-1250000000"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def jpeg_size(data: bytes) -> tuple[int, int]:
    assert data.startswith(b"\xff\xd8"), data[:4]
    i = 2
    while i + 9 < len(data):
        marker = data[i + 1]
        if 0xC0 <= marker <= 0xCF and marker not in (0xC4, 0xC8, 0xCC):
            height, width = struct.unpack(">HH", data[i + 5 : i + 9])
            return width, height
        i += 2 + struct.unpack(">H", data[i + 2 : i + 4])[0]
    raise AssertionError("no JPEG frame header")


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1)))]


def server_snapshot(client: CosS3Client, key: str, at: str) -> tuple[float, bytes]:
    start = time.perf_counter()
    resp = client.get_snapshot(Bucket=BUCKET, Key=key, Time=at)
    data = resp["Body"].get_raw_stream().read()
    return time.perf_counter() - start, data


def bare_snapshot(source: Path, at: str, out: Path) -> float:
    cmd = ["ffmpeg", "-hide_banner", "-loglevel", "error", "-nostdin", "-y",
           "-ss", at, "-i", str(source), "-frames:v", "1", str(out)]  # fmt: skip
    start = time.perf_counter()
    subprocess.run(cmd, check=True)
    return time.perf_counter() - start


def measure(client, key: str, source: Path, at: str, count: int, warmup: int, work: Path):
    out = work / "bare.jpg"
    for _ in range(warmup):
        server_snapshot(client, key, at)
        bare_snapshot(source, at, out)
    served, bare = [], []
    size = None
    for _ in range(count):
        elapsed, data = server_snapshot(client, key, at)
        served.append(elapsed)
        size = jpeg_size(data)
        bare.append(bare_snapshot(source, at, out))
    assert size == jpeg_size(out.read_bytes()), (size, jpeg_size(out.read_bytes()))
    return served, bare, size


def report(label: str, served: list[float], bare: list[float], size, count: int) -> None:
    s50, b50 = statistics.median(served), statistics.median(bare)
    print(f"{label}: {count} requests, {size[0]}x{size[1]} jpeg")
    print(f"  server  p50 {s50 * 1000:7.1f} ms   p90 {percentile(served, 90) * 1000:7.1f} ms")
    print(f"  ffmpeg  p50 {b50 * 1000:7.1f} ms   p90 {percentile(bare, 90) * 1000:7.1f} ms")
    ratio = s50 / b50
    print(f"  ratio p50 {ratio:.2f}x (goal <= 1.2: {'met' if ratio <= 1.2 else 'MISSED'}); "
          f"server p50 {s50 * 1000:.0f} ms (goal < 300 ms: {'met' if s50 < 0.3 else 'MISSED'})")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--bin", required=True)
    ap.add_argument("--source", required=True)
    ap.add_argument("--time", default="300")
    ap.add_argument("--count", type=int, default=20)
    ap.add_argument("--warmup", type=int, default=3)
    ap.add_argument("--multipart", action="store_true", help="also measure a multipart upload")
    ap.add_argument("--dir", default=None, help="work directory (default: under bench/out)")
    args = ap.parse_args()

    root = Path(__file__).resolve().parents[2]
    base = Path(args.dir) if args.dir else root / "bench" / "out"
    base.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix="snapshot-", dir=base))
    source = Path(args.source).resolve()
    sid, key = "AKID" + secrets.token_hex(8), secrets.token_hex(16)
    port = free_port()
    env = dict(os.environ, REELFLOW_SECRET_ID=sid, REELFLOW_SECRET_KEY=key, REELFLOW_LOG="warn")
    server = subprocess.Popen(
        [args.bin, "serve", "--listen", f"127.0.0.1:{port}", "--data", str(work / "data")],
        env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    try:
        client = CosS3Client(CosConfig(Region="ap-guangzhou", SecretId=sid, SecretKey=key,
                                       Scheme="http", IP="127.0.0.1", Port=port, Timeout=120))
        for _ in range(100):
            try:
                client.create_bucket(Bucket=BUCKET)
                break
            except Exception:  # noqa: BLE001 - server still starting
                time.sleep(0.1)
        mib = source.stat().st_size / 2**20
        print(f"uploading {source.name} ({mib:.0f} MiB) with put_object ...", flush=True)
        with open(source, "rb") as body:
            client.put_object(Bucket=BUCKET, Key="src.mp4", Body=body)
        served, bare, size = measure(client, "src.mp4", source, args.time, args.count, args.warmup, work)
        report(f"snapshot at t={args.time} s, plain object", served, bare, size, args.count)
        if args.multipart:
            print("uploading again with upload_file (multipart, 64 MiB parts) ...", flush=True)
            client.upload_file(Bucket=BUCKET, Key="multi.mp4", LocalFilePath=str(source),
                               PartSize=64, MAXThread=4)  # fmt: skip
            served, bare, size = measure(client, "multi.mp4", source, args.time, args.count, args.warmup, work)
            report(f"snapshot at t={args.time} s, multipart object (loopback)", served, bare, size, args.count)
    finally:
        server.terminate()
        server.wait(timeout=30)
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
