"""Multipart upload throughput and server memory, measured in one run on this machine.

A file of --size-mib MiB of random bytes is uploaded with the official COS Python SDK's
`upload_file` (multipart, --part-mib parts, --threads parts in parallel) to a release build of
reelflow whose data directory is on the same disk, and compared with `cp` of the same file
to the same directory: plain `cp` (page-cache speed) and `cp` + `sync` of the copy (the same
durability reelflow gives an upload: fsynced before it is acknowledged).

Prints per-repeat figures, the median throughput ratio (goal >= 0.9) and the server's peak RSS
(VmHWM, goal < 100 MiB). Exits 0: goals are reported, not asserted.

Usage: python bench.py --bin target/release/reelflow [--size-mib 2048] [--repeat 3]
"""

from __future__ import annotations

import argparse
import hashlib
import os
import secrets
import shutil
import socket
import statistics
import subprocess
import tempfile
import time
from pathlib import Path

from qcloud_cos import CosConfig, CosS3Client

BUCKET = "bench-1250000000"
MIB = 1024 * 1024


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def make_file(path: Path, size_mib: int) -> None:
    chunk = os.urandom(MIB)
    with open(path, "wb") as f:
        for i in range(size_mib):
            # Vary every MiB so no part is a copy of another.
            f.write(i.to_bytes(8, "little") + chunk[8:])


def multipart_etag(path: Path, part_bytes: int) -> str:
    digests = b""
    count = 0
    with open(path, "rb") as f:
        while block := f.read(part_bytes):
            digests += hashlib.md5(block).digest()
            count += 1
    return f'"{hashlib.md5(digests).hexdigest()}-{count}"'


def md5_rate(path: Path) -> float:
    """MiB/s of `md5sum` over the file (single core): the floor of the ETag work."""
    start = time.perf_counter()
    subprocess.run(["md5sum", str(path)], check=True, stdout=subprocess.DEVNULL)
    return path.stat().st_size / MIB / (time.perf_counter() - start)


def time_cp(src: Path, dst: Path, durable: bool) -> float:
    """`cp`, or with `durable` `cp` then `sync` of the copy (fsync: on disk, as an upload is
    before reelflow acknowledges it)."""
    dst.unlink(missing_ok=True)
    subprocess.run(["sync"], check=True)
    start = time.perf_counter()
    subprocess.run(["cp", str(src), str(dst)], check=True)
    if durable:
        subprocess.run(["sync", str(dst)], check=True)
    elapsed = time.perf_counter() - start
    dst.unlink()
    return elapsed


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process so far."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def peak_rss_mib(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--bin", required=True)
    ap.add_argument("--size-mib", type=int, default=2048)
    ap.add_argument("--part-mib", type=int, default=64)
    ap.add_argument("--threads", type=int, default=4)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--dir", default=None, help="work directory (default: under bench/out)")
    args = ap.parse_args()

    root = Path(__file__).resolve().parents[2]
    base = Path(args.dir) if args.dir else root / "bench" / "out"
    base.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix="multipart-", dir=base))
    sid, key = "AKID" + secrets.token_hex(8), secrets.token_hex(16)
    port = free_port()
    env = dict(os.environ, REELFLOW_SECRET_ID=sid, REELFLOW_SECRET_KEY=key, REELFLOW_LOG="warn")
    server = subprocess.Popen(
        [args.bin, "serve", "--listen", f"127.0.0.1:{port}", "--data", str(work / "data")],
        env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )
    try:
        src = work / "source.bin"
        print(f"making a {args.size_mib} MiB file ...", flush=True)
        make_file(src, args.size_mib)
        size = src.stat().st_size
        client = CosS3Client(CosConfig(Region="ap-guangzhou", SecretId=sid, SecretKey=key,
                                       Scheme="http", IP="127.0.0.1", Port=port))
        for _ in range(100):
            try:
                client.create_bucket(Bucket=BUCKET)
                break
            except Exception:  # noqa: BLE001 - server still starting
                time.sleep(0.1)
        want_etag = multipart_etag(src, args.part_mib * MIB)
        cp_times, sync_times, up_times, server_cpu, client_cpu = [], [], [], [], []
        for i in range(args.repeat):
            cp_times.append(time_cp(src, work / "copy.bin", durable=False))
            sync_times.append(time_cp(src, work / "copy.bin", durable=True))
            subprocess.run(["sync"], check=True)
            cpu0, mine0 = cpu_seconds(server.pid), time.process_time()
            start = time.perf_counter()
            client.upload_file(Bucket=BUCKET, Key=f"big-{i}.bin", LocalFilePath=str(src),
                               PartSize=args.part_mib, MAXThread=args.threads)
            up_times.append(time.perf_counter() - start)
            server_cpu.append(cpu_seconds(server.pid) - cpu0)
            client_cpu.append(time.process_time() - mine0)
            head = client.head_object(Bucket=BUCKET, Key=f"big-{i}.bin")
            assert int(head["Content-Length"]) == size, head
            assert head["ETag"] == want_etag, (head["ETag"], want_etag)
            client.delete_object(Bucket=BUCKET, Key=f"big-{i}.bin")
            print(f"repeat {i + 1}: cp {size / MIB / cp_times[-1]:.0f} MiB/s, "
                  f"cp+sync {size / MIB / sync_times[-1]:.0f} MiB/s, "
                  f"upload_file {size / MIB / up_times[-1]:.0f} MiB/s", flush=True)
        cp = statistics.median(cp_times)
        cp_sync = statistics.median(sync_times)
        up = statistics.median(up_times)
        rss = peak_rss_mib(server.pid)
        print(f"\nmultipart upload of {args.size_mib} MiB, {args.part_mib} MiB parts, "
              f"{args.threads} in parallel (medians of {args.repeat}):")
        print(f"  cp                {size / MIB / cp:8.0f} MiB/s  ({cp:.2f} s)")
        print(f"  cp + sync         {size / MIB / cp_sync:8.0f} MiB/s  ({cp_sync:.2f} s)")
        print(f"  upload_file       {size / MIB / up:8.0f} MiB/s  ({up:.2f} s)")
        print(f"  ratio upload/cp          {cp / up:8.3f}   (goal >= 0.9)")
        print(f"  ratio upload/(cp + sync) {cp_sync / up:8.3f}   (same durability as an upload)")
        print(f"  server peak RSS   {rss:8.1f} MiB  (goal < 100)")
        print(f"  CPU per upload    server {statistics.median(server_cpu):.2f} s, "
              f"client {statistics.median(client_cpu):.2f} s (2 cores; MD5 alone is "
              f"{size / MIB / md5_rate(src):.2f} s of one core)")
    finally:
        server.terminate()
        server.wait(timeout=30)
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
