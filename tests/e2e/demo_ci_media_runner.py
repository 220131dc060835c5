"""Runs the SDK's own media demo module against a local reelflow and reports each call.

    .venv/bin/python tests/e2e/demo_ci_media_runner.py /tmp/ci_media.py [--json report.json]

DEMO is `demo/ci_media.py` of tencentyun/cos-python-sdk-v5 (not vendored here; e.g.
`git -C <mirror> show HEAD:demo/ci_media.py > /tmp/ci_media.py`). The runner:

1. starts `target/debug/reelflow` (or `--bin`) on a free port with a fresh data directory and
   generated credentials, loopback allowed for callbacks and URL inputs;
2. creates the demo's bucket and uploads the media it names (generated with ffmpeg's lavfi);
3. imports DEMO with SECRETID/SECRETKEY set, then swaps its module globals `client`,
   `bucket_name` and `region` for the local server; nothing else in the demo is changed (its
   placeholder template, job and workflow ids stay as written);
4. calls every top-level function in source order, each with a time limit, recording the HTTP
   requests it made (status of the last one), the error code and message of a refused call, and,
   for created jobs, the state they end in.

`--map-template ID` (repeatable) additionally creates a local Transcode template and substitutes
it for the demo's placeholder template id ID in job requests, to show what the demos do once
their template exists.

An ok call answered 2xx. A refused call must be a clean 4xx or 501 CI error with a message; a 5xx,
an unreadable error or an exception other than CosServiceError is reported as BROKEN and makes the
runner exit 1.
"""

from __future__ import annotations

import argparse
import ast
import importlib.util
import json
import os
import secrets
import socket
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

import requests
from qcloud_cos import CosConfig, CosS3Client
from qcloud_cos.cos_exception import CosServiceError

REPO = Path(__file__).resolve().parents[2]
REGION = "ap-guangzhou"
CALL_TIMEOUT = 60.0
JOB_TIMEOUT = 180.0
FINAL = {"Success", "Failed", "Cancel"}


@dataclass
class Outcome:
    function: str
    result: str  # ok | refused | BROKEN | timeout
    status: int | None = None
    code: str = ""
    message: str = ""
    requests: list[str] = field(default_factory=list)
    jobs: list[str] = field(default_factory=list)  # "<JobId> <State> <Code>"


# --- server ---------------------------------------------------------------------------------------
def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_server(binary: Path, data: Path, secret_id: str, secret_key: str) -> tuple[subprocess.Popen, int]:
    port = free_port()
    env = dict(os.environ)
    env.update(
        REELFLOW_SECRET_ID=secret_id,
        REELFLOW_SECRET_KEY=secret_key,
        REELFLOW_CALLBACK_ALLOW_CIDRS="127.0.0.0/8",
        REELFLOW_REGION=REGION,
        REELFLOW_LOG="warn",
    )
    log = open(data / "server.log", "wb")
    proc = subprocess.Popen(
        [str(binary), "serve", "--listen", f"127.0.0.1:{port}", "--data", str(data / "data")],
        stdout=log,
        stderr=subprocess.STDOUT,
        env=env,
    )
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            if requests.get(f"http://127.0.0.1:{port}/_reelflow/health", timeout=1).status_code == 200:
                return proc, port
        except requests.RequestException:
            pass
        time.sleep(0.1)
    proc.kill()
    raise SystemExit(f"reelflow did not become healthy; see {data / 'server.log'}")


# --- fixtures ---------------------------------------------------------------------------------------
def ffmpeg(*args: str) -> None:
    subprocess.run(["ffmpeg", "-v", "error", "-y", *args], check=True, timeout=120)


def fixtures(work: Path) -> dict[str, Path]:
    """Every object key the demo names, as generated media."""
    clip = work / "clip.mp4"
    ffmpeg("-f", "lavfi", "-i", "testsrc2=size=640x360:rate=25", "-f", "lavfi", "-i", "sine=frequency=440",
           "-t", "3", "-c:v", "libx264", "-preset", "ultrafast", "-pix_fmt", "yuv420p", "-c:a", "aac", str(clip))
    png = work / "image.png"
    ffmpeg("-f", "lavfi", "-i", "testsrc2=size=256x256", "-frames:v", "1", str(png))
    logo = work / "logo.png"
    ffmpeg("-f", "lavfi", "-i", "color=c=red:size=64x64", "-frames:v", "1", str(logo))
    mp3 = work / "audio.mp3"
    ffmpeg("-f", "lavfi", "-i", "sine=frequency=440", "-t", "3", str(mp3))
    gif = work / "anim.gif"
    ffmpeg("-f", "lavfi", "-i", "testsrc2=size=160x120:rate=5", "-t", "2", str(gif))
    hls = work / "hls"
    hls.mkdir(exist_ok=True)
    ffmpeg("-i", str(clip), "-c", "copy", "-f", "hls", "-hls_time", "1", "-hls_list_size", "0", str(hls / "demo.m3u8"))
    txt = work / "demo.txt"
    txt.write_text("reelflow demo text\n")
    objects = {key: clip for key in ("demo.mp4", "1.mp4", "2.mp4", "117374C.mp4", "gaobai.mp4", "digital.mp4", "test.mp4")}
    objects.update({"watermark.png": logo, "1.png": png, "test.png": png, "heichan.png": png,
                    "demo.mp3": mp3, "1.mp3": mp3, "demo.txt": txt, "test1026.gif": gif,
                    "demo.m3u8": hls / "demo.m3u8"})  # fmt: skip
    objects.update({f.name: f for f in hls.glob("*.ts")})
    return objects  # fmt: skip


# --- the demo -------------------------------------------------------------------------------------------
def functions_of(demo: Path) -> list[str]:
    tree = ast.parse(demo.read_text(encoding="utf-8"))
    return [n.name for n in tree.body if isinstance(n, ast.FunctionDef)]


def load_demo(demo: Path, secret_id: str, secret_key: str):
    os.environ["SECRETID"], os.environ["SECRETKEY"] = secret_id, secret_key
    spec = importlib.util.spec_from_file_location("ci_media_demo", demo)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


class Recorder:
    """Wraps a client's send_request to note each request's method, path and status."""

    def __init__(self, client: CosS3Client) -> None:
        self.lines: list[str] = []
        self.last_status: int | None = None
        original = client.send_request

        def send_request(method, url, *args, **kwargs):
            path = "/" + url.split("/", 3)[3] if url.count("/") >= 3 else url
            try:
                resp = original(method, url, *args, **kwargs)
            except CosServiceError as e:
                self.last_status = e.get_status_code()
                self.lines.append(f"{method} {path.split('?')[0]} -> {self.last_status}")
                raise
            self.last_status = resp.status_code
            self.lines.append(f"{method} {path.split('?')[0]} -> {resp.status_code}")
            return resp

        client.send_request = send_request


def map_templates(client: CosS3Client, bucket: str, placeholders: list[str]) -> None:
    """Job requests naming a placeholder template id use a local template instead."""
    if not placeholders:
        return
    local = client.ci_create_template(
        Bucket=bucket,
        Template={"Tag": "Transcode", "Name": "demo-mapped", "Container": {"Format": "mp4"},
                  "Video": {"Codec": "H.264", "Width": "640"}, "Audio": {"Codec": "aac"}},
    )["Template"]["TemplateId"]  # fmt: skip

    def swap(value):
        if isinstance(value, dict):
            return {k: swap(v) for k, v in value.items()}
        if isinstance(value, list):
            return [swap(v) for v in value]
        return local if value in placeholders else value

    original = client.ci_create_media_jobs

    def ci_create_media_jobs(Bucket, Jobs={}, Lst={}, **kwargs):  # noqa: B006,N803 - the SDK's signature
        return original(Bucket, Jobs=swap(Jobs), Lst=Lst, **kwargs)

    client.ci_create_media_jobs = ci_create_media_jobs


def job_ids(result) -> list[str]:
    response = result[0] if isinstance(result, tuple) else result
    if not isinstance(response, dict):
        return []
    details = response.get("JobsDetail")
    details = details if isinstance(details, list) else [details] if details else []
    return [d["JobId"] for d in details if isinstance(d, dict) and d.get("JobId", "").startswith("j")]


def wait_job(client: CosS3Client, bucket: str, job_id: str) -> str:
    deadline = time.monotonic() + JOB_TIMEOUT
    while True:
        detail = client.ci_get_media_jobs(Bucket=bucket, JobIDs=job_id)["JobsDetail"]
        detail = detail[0] if isinstance(detail, list) else detail
        if detail["State"] in FINAL or time.monotonic() > deadline:
            message = (detail.get("Message") or "")[:160]
            return f"{job_id} {detail['State']} {detail.get('Code')}" + (f" ({message})" if detail["State"] == "Failed" else "")
        time.sleep(0.5)


def call(module, name: str, recorder: Recorder) -> Outcome:
    recorder.lines, recorder.last_status = [], None
    box: dict = {}

    def target():
        try:
            box["result"] = getattr(module, name)()
        except BaseException as e:  # noqa: BLE001 - reported, never raised
            box["error"] = e

    thread = threading.Thread(target=target, daemon=True)
    thread.start()
    thread.join(CALL_TIMEOUT)
    out = Outcome(name, "ok", requests=list(recorder.lines))
    if thread.is_alive():
        out.result, out.message = "timeout", f"still running after {CALL_TIMEOUT:.0f}s"
        return out
    error = box.get("error")
    out.status = recorder.last_status
    if error is None:
        out.jobs = list(job_ids(box.get("result")))
        return out
    if isinstance(error, CosServiceError):
        out.status, out.code = error.get_status_code(), error.get_error_code()
        out.message = (error.get_error_msg() or "")[:200]
        clean = out.status is not None and (400 <= out.status < 500 or out.status == 501)
        out.result = "refused" if clean and out.code not in ("", "Unknown") and out.message else "BROKEN"
        return out
    out.result, out.message = "BROKEN", f"{type(error).__name__}: {error}"[:200]
    return out


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("demo", type=Path, help="path of the SDK's demo/ci_media.py")
    parser.add_argument("--bin", type=Path, default=REPO / "target" / "debug" / "reelflow")
    parser.add_argument("--json", type=Path, help="also write the report as JSON here")
    parser.add_argument("--map-template", action="append", default=[], metavar="ID",
                        help="use a local Transcode template where job requests name this placeholder id")
    args = parser.parse_args()
    secret_id, secret_key = "AKID" + secrets.token_hex(16), secrets.token_hex(16)
    with tempfile.TemporaryDirectory(prefix="demo-ci-media-") as tmp:
        work = Path(tmp)
        proc, port = start_server(args.bin, work, secret_id, secret_key)
        try:
            cfg = CosConfig(Region=REGION, SecretId=secret_id, SecretKey=secret_key, Scheme="http",
                            IP="127.0.0.1", Port=port, Timeout=30)  # fmt: skip
            client = CosS3Client(cfg, retry=0)
            module = load_demo(args.demo, secret_id, secret_key)
            bucket = module.bucket_name
            client.create_bucket(Bucket=bucket)
            for key, path in fixtures(work).items():
                client.put_object(Bucket=bucket, Key=key, Body=path.read_bytes())
            module.client, module.region = client, REGION  # the swap; bucket_name is kept as written
            map_templates(client, bucket, args.map_template)
            recorder = Recorder(client)
            outcomes = []
            for name in functions_of(args.demo):
                out = call(module, name, recorder)
                out.jobs = [wait_job(client, bucket, j) for j in out.jobs]
                outcomes.append(out)
                print(f"{name:58} {out.result:8} {out.status or '-':>4} {out.code:24} {out.message[:90]}"
                      + "".join(f"\n{'':60}job {j}" for j in out.jobs), flush=True)  # fmt: skip
        finally:
            proc.terminate()
            proc.wait(timeout=15)
    ok = sum(o.result == "ok" for o in outcomes)
    broken = [o.function for o in outcomes if o.result in ("BROKEN", "timeout")]
    print(f"\n{ok} of {len(outcomes)} calls succeeded; {len(outcomes) - ok - len(broken)} refused cleanly; "
          f"broken: {broken or 'none'}")  # fmt: skip
    if args.json:
        args.json.write_text(json.dumps([asdict(o) for o in outcomes], indent=2, ensure_ascii=False))
    return 1 if broken else 0


if __name__ == "__main__":
    sys.exit(main())
