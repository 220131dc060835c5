"""Workflow benchmarks against bare ffmpeg, measured in one run on this machine.

(a) one-Transcode workflow, upload -> callback received, / the same ffmpeg command run bare.
(b) a three-rendition ladder (720p/480p/360p from a detailed 1080p source) through a workflow
    (the engine fuses the siblings into one ffmpeg) / the three bare ffmpeg commands run
    concurrently as separate jobs would.

Usage: python bench.py --bin target/release/reelflow [--seconds 10] [--repeat 3]
Prints each measurement and the ratios; exits 0 (goals are reported, not asserted).
"""

from __future__ import annotations

import argparse
import http.server
import json
import os
import secrets
import shutil
import socket
import statistics
import subprocess
import tempfile
import threading
import time
from pathlib import Path

from qcloud_cos import CosConfig, CosS3Client

BUCKET = "bench-1250000000"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Receiver:
    """Records the arrival time of every callback."""

    def __init__(self) -> None:
        self.arrivals: list[float] = []
        self.cond = threading.Condition()
        outer = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_POST(self):  # noqa: N802
                self.rfile.read(int(self.headers.get("Content-Length", 0)))
                with outer.cond:
                    outer.arrivals.append(time.perf_counter())
                    outer.cond.notify_all()
                self.send_response(200)
                self.end_headers()

            def log_message(self, *args):
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/cb"

    def wait(self, count: int, timeout: float = 600) -> float:
        with self.cond:
            ok = self.cond.wait_for(lambda: len(self.arrivals) >= count, timeout)
            if not ok:
                raise TimeoutError("no callback")
            return self.arrivals[count - 1]


def make_source(path: Path, size: str, seconds: int) -> None:
    # testsrc2 plus temporal noise: real detail for the encoder, like camera footage.
    subprocess.run(
        ["ffmpeg", "-v", "error", "-y", "-f", "lavfi", "-i", f"testsrc2=size={size}:rate=30",
         "-f", "lavfi", "-i", "sine=frequency=440", "-t", str(seconds),
         "-vf", "noise=alls=20:allf=t+u", "-c:v", "libx264", "-preset", "veryfast", "-crf", "18",
         "-c:a", "aac", "-shortest", str(path)],
        check=True,
    )


TEMPLATES = {
    "720p": "<Request><Tag>Transcode</Tag><Name>b720</Name><Container><Format>mp4</Format></Container><Video><Codec>H.264</Codec><Height>720</Height><Crf>23</Crf></Video><Audio><Codec>aac</Codec><Bitrate>128</Bitrate></Audio></Request>",
    "480p": "<Request><Tag>Transcode</Tag><Name>b480</Name><Container><Format>mp4</Format></Container><Video><Codec>H.264</Codec><Height>480</Height><Crf>23</Crf></Video><Audio><Codec>aac</Codec><Bitrate>96</Bitrate></Audio></Request>",
    "360p": "<Request><Tag>Transcode</Tag><Name>b360</Name><Container><Format>mp4</Format></Container><Video><Codec>H.264</Codec><Height>360</Height><Crf>23</Crf></Video><Audio><Codec>aac</Codec><Bitrate>64</Bitrate></Audio></Request>",
}


def ffmpeg_args(binary: str, template: str, src: Path, out: Path, work: Path) -> list[str]:
    tpl = work / f"tpl-{secrets.token_hex(4)}.xml"
    tpl.write_text(template)
    raw = subprocess.run([binary, "ffmpeg-args", "--template", str(tpl), "--input", str(src), "--output", str(out)],
                         check=True, capture_output=True, text=True).stdout
    return ["ffmpeg", *json.loads(raw)]


def bare(commands: list[list[str]]) -> float:
    """Runs the commands concurrently (as separate jobs would) and returns the wall time."""
    start = time.perf_counter()
    procs = [subprocess.Popen(c, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL) for c in commands]
    for p in procs:
        if p.wait() != 0:
            raise RuntimeError(f"ffmpeg failed: {p.args}")
    return time.perf_counter() - start


class Server:
    def __init__(self, binary: str, work: Path) -> None:
        self.port = free_port()
        self.sid, self.key = "AKIDbench", secrets.token_hex(16)
        env = dict(os.environ, REELFLOW_SECRET_ID=self.sid, REELFLOW_SECRET_KEY=self.key,
                   REELFLOW_CALLBACK_ALLOW_CIDRS="127.0.0.0/8", REELFLOW_LOG="warn")
        self.proc = subprocess.Popen([binary, "serve", "--listen", f"127.0.0.1:{self.port}", "--data", str(work / "data")],
                                     env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        cfg = CosConfig(Region="ap-guangzhou", SecretId=self.sid, SecretKey=self.key, Scheme="http", IP="127.0.0.1", Port=self.port)
        self.client = CosS3Client(cfg, retry=0)
        for _ in range(300):
            try:
                self.client.create_bucket(Bucket=BUCKET)
                return
            except Exception:
                time.sleep(0.1)
        raise RuntimeError("server did not start")

    def stop(self) -> None:
        self.proc.terminate()
        self.proc.wait(timeout=30)


def workflow(client: CosS3Client, name: str, prefix: str, templates: list[str], url: str) -> None:
    nodes = {"Start": {"Type": "Start", "Input": {"ObjectPrefix": prefix, "NotifyConfig": {"Url": url, "Event": "WorkflowFinish", "Type": "Url", "State": "On"}}}}
    deps = {"Start": ",".join(f"T{i}" for i in range(len(templates)))}
    for i, tid in enumerate(templates):
        deps[f"T{i}"] = "End"
        nodes[f"T{i}"] = {"Type": "Transcode", "Operation": {"TemplateId": tid, "Output": {"Region": "ap-guangzhou", "Bucket": BUCKET, "Object": f"out/${{RunId}}/{i}.${{Ext}}"}}}
    client.ci_create_workflow(Bucket=BUCKET, Body={"MediaWorkflow": {"Name": name, "State": "Active", "Topology": {"Dependencies": deps, "Nodes": nodes}}}, ContentType="application/xml")


def through_workflow(server: Server, receiver: Receiver, prefix: str, src: Path, repeat: int) -> list[float]:
    times = []
    for i in range(repeat):
        before = len(receiver.arrivals)
        start = time.perf_counter()
        with open(src, "rb") as f:
            server.client.put_object(Bucket=BUCKET, Key=f"{prefix}{i}.mp4", Body=f)
        times.append(receiver.wait(before + 1) - start)
    return times


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--bin", default="target/release/reelflow")
    parser.add_argument("--seconds", type=int, default=10)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="reelflow-bench-"))
    try:
        src720 = work / "src720.mp4"
        src1080 = work / "src1080.mp4"
        make_source(src720, "1280x720", args.seconds)
        make_source(src1080, "1920x1080", args.seconds)
        receiver = Receiver()
        server = Server(args.bin, work)
        try:
            ids = {k: server.client.ci_create_template(Bucket=BUCKET, Template=_template_dict(v))["Template"]["TemplateId"] for k, v in TEMPLATES.items()}
            workflow(server.client, "single", "single/", [ids["480p"]], receiver.url)
            workflow(server.client, "ladder", "ladder/", [ids["720p"], ids["480p"], ids["360p"]], receiver.url)
            # Warm-up (page cache, first-run costs) for both sides.
            through_workflow(server, receiver, "single/warm", src720, 1)
            bare([ffmpeg_args(args.bin, TEMPLATES["480p"], src720, work / "warm.mp4", work)])

            # Interleaved, so drifting background load hits both sides alike.
            a_flow, a_bare, b_flow, b_bare = [], [], [], []
            a_cmd = ffmpeg_args(args.bin, TEMPLATES["480p"], src720, work / "a.mp4", work)
            b_cmds = [ffmpeg_args(args.bin, TEMPLATES[k], src1080, work / f"b{k}.mp4", work) for k in ("720p", "480p", "360p")]
            for i in range(args.repeat):
                a_flow += through_workflow(server, receiver, f"single/{i}-", src720, 1)
                a_bare.append(bare([a_cmd]))
                b_flow += through_workflow(server, receiver, f"ladder/{i}-", src1080, 1)
                b_bare.append(bare(b_cmds))
        finally:
            server.stop()
        report("(a) one Transcode: upload -> callback / bare ffmpeg", a_flow, a_bare, 1.05)
        report("(b) 3-rendition ladder, fused workflow / 3 concurrent bare ffmpeg", b_flow, b_bare, 0.75)
    finally:
        shutil.rmtree(work, ignore_errors=True)


def _template_dict(xml: str) -> dict:
    import xml.etree.ElementTree as ET

    def to_dict(el):
        if len(el) == 0:
            return el.text or ""
        return {child.tag: to_dict(child) for child in el}

    return to_dict(ET.fromstring(xml))


def report(name: str, flow: list[float], bare_times: list[float], goal: float) -> None:
    f, b = statistics.median(flow), statistics.median(bare_times)
    ratio = f / b
    verdict = "meets" if ratio <= goal else "MISSES"
    print(f"{name}: workflow {f:.2f}s (runs {', '.join(f'{x:.2f}' for x in flow)}), "
          f"bare {b:.2f}s (runs {', '.join(f'{x:.2f}' for x in bare_times)}), ratio {ratio:.3f} ({verdict} goal <= {goal})")


if __name__ == "__main__":
    main()
