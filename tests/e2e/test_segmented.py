"""Segmented transcoding across processes (issue 13): PostgreSQL + the moto S3 server, one
`--role api` process and three `--role worker` processes with one task slot each. A 60 s
320x240 clip (a white flash and a 1 kHz beep every 5 s) is split into 4 segments plus the
audio pass, encoded by the workers, stitched by the parent task:

- the output has the input's frame count, its duration within one frame, and A/V sync within
  20 ms near the start, the middle and the end (flash frame vs beep onset, as in
  crates/media/tests/segmented);
- every segment ran exactly once (accepted task ends in the workers' logs), on more than one
  worker, and the job records show the Transcode task only;
- a worker SIGKILLed while it encodes a segment costs only that segment: its lease expires,
  another worker encodes it, the output is still exact;
- cancelling the parent while its segments run cancels all of them;
- overwriting the input mid-run fails the run with InvalidInput naming the key.
"""

from __future__ import annotations

import re
import secrets
import subprocess
import time
from pathlib import Path

import pytest

import reelflow_e2e as rf

SECONDS = 60
SEGMENTS = 4
FRAMES = SECONDS * 25
FRAME = 0.04
SYNC = 0.020
SEGMENT_ENV = {
    "REELFLOW_SEGMENT_MIN_SECONDS": "30",
    "REELFLOW_SEGMENT_COUNT": str(SEGMENTS),
    "REELFLOW_SEGMENT_MIN_LENGTH": "10",
}
FINISHED = re.compile(r"node=(\S+?#seg-\d+)\}.*task finished.*state=Success")
RANGED = re.compile(r"#(?:seg-\d+|audio)\}.*input read by ranged requests read_bytes=(\d+) size=(\d+)")
KEPT = re.compile(r"#(?:seg-\d+|audio)\}.*input read from the parent's download kept on this worker")
CLAIMED_SEGMENT = re.compile(r"node=\S+?#seg-\d+\}.*claimed")


def run(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(args, check=True, capture_output=True, text=True)


@pytest.fixture(scope="module")
def clip(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("segmented") / "marks.mp4"
    flash = "drawbox=c=white:t=fill:enable='between(mod(t\\,5)\\,1\\,1.039)'"
    audio = ("aevalsrc=exprs='0.05*sin(2*PI*440*t)+if(between(mod(t\\,5)\\,1\\,1.04)"
             f"\\,0.8*sin(2*PI*1000*t)\\,0)':s=44100:d={SECONDS}")
    run("ffmpeg", "-hide_banner", "-loglevel", "error", "-y",
        "-f", "lavfi", "-i", f"testsrc2=size=320x240:rate=25:duration={SECONDS},{flash}",
        "-f", "lavfi", "-i", audio, "-c:a", "aac", "-c:v", "libx264", "-preset", "veryfast",
        "-g", "50", "-pix_fmt", "yuv420p", "-threads", "2", str(path))
    return path


def video_span(path: Path) -> tuple[int, float]:
    out = run("ffprobe", "-v", "error", "-select_streams", "V:0", "-show_entries",
              "packet=pts_time,duration_time", "-of", "csv=p=0", str(path)).stdout
    packets = []
    for line in out.splitlines():
        f = line.split(",")
        try:
            packets.append((float(f[0]), float(f[1]) if len(f) > 1 and f[1] else 0.0))
        except ValueError:
            continue
    first = min(p for p, _ in packets)
    end = max(p + d for p, d in packets)
    return len(packets), end - first


def flash_times(path: Path) -> list[float]:
    out = run("ffmpeg", "-hide_banner", "-loglevel", "error", "-threads", "2", "-copyts", "-i", str(path),
              "-an", "-vf", "signalstats,metadata=print:key=lavfi.signalstats.YAVG:file=-",
              "-f", "null", "-").stdout
    times, current = [], None
    for line in out.splitlines():
        if "pts_time:" in line:
            current = float(line.split("pts_time:")[1].split()[0])
        elif line.startswith("lavfi.signalstats.YAVG=") and float(line.split("=")[1]) > 200 and current is not None:
            times.append(current)
    return times


def beep_onsets(path: Path) -> list[float]:
    err = run("ffmpeg", "-hide_banner", "-loglevel", "info", "-copyts", "-i", str(path), "-vn",
              "-af", "silencedetect=noise=-20dB:d=0.01", "-f", "null", "-").stderr
    return [float(l.split("silence_end: ")[1].split()[0]) for l in err.splitlines() if "silence_end: " in l]


def av_offsets(path: Path, marks: list[float]) -> list[float]:
    flashes, beeps = flash_times(path), beep_onsets(path)

    def nearest(values: list[float], t: float) -> float:
        return min(values, key=lambda v: abs(v - t))

    return [nearest(beeps, t) - nearest(flashes, t) for t in marks]


def check_output(output: Path, source: Path) -> None:
    frames, secs = video_span(output)
    in_frames, in_secs = video_span(source)
    assert frames == in_frames == FRAMES, (frames, in_frames)
    assert abs(secs - in_secs) <= FRAME + 1e-6, (secs, in_secs)
    marks = [1.0, SECONDS / 2 + 1.0, SECONDS - 4.0]
    offsets = av_offsets(output, marks)
    print(f"frames {frames}/{in_frames}, video {secs:.4f}/{in_secs:.4f} s, "
          f"A/V offsets at {marks}: {[round(o * 1000, 2) for o in offsets]} ms")
    assert all(abs(o) <= SYNC for o in offsets), offsets


class Cluster:
    def __init__(self, server_factory, substrates: dict, receiver, tag: str):
        creds = {"secret_id": "AKID" + secrets.token_hex(16), "secret_key": secrets.token_hex(16)}

        def start(role: str):
            # A short lease: a killed worker's segment runs elsewhere after 6 s, not 30 s.
            env = dict(substrates, REELFLOW_ROLE=role, REELFLOW_WORKERS="1", REELFLOW_TASK_LEASE_SECS="6",
                       **SEGMENT_ENV)
            return server_factory(extra_env=env, **creds)

        self.api = start("api")
        self.workers = [start("worker") for _ in range(3)]
        self.client = self.api.client()
        self.bucket = rf.create_bucket(self.client, tag)
        self.url = receiver.url(tag)
        tpl = self.client.ci_create_template(Bucket=self.bucket, Template={
            "Tag": "Transcode", "Name": "seg",
            "Container": {"Format": "mp4"},
            "Video": {"Codec": "H.264", "Crf": "28", "Preset": "veryfast"},
            "Audio": {"Codec": "aac", "Samplerate": "44100", "Bitrate": "64", "Channels": "1"},
        })["Template"]["TemplateId"]
        node = rf.transcode_node(tpl, self.bucket, "out/${InputName}.${Ext}")
        body = rf.workflow_body(tag, {"Transcode_1": node}, notify_url=self.url, prefix="in/")
        rf.create_workflow(self.client, self.bucket, body)

    def log(self, server) -> str:
        return server.log_path.read_text(errors="replace")

    def kept_inputs(self) -> list[list[str]]:
        """Per worker, the inputs kept for its parts (`DATA/work/inputs`)."""
        dirs = [w.data_dir / "work" / "inputs" for w in self.workers]
        return [sorted(p.name for p in d.iterdir()) if d.is_dir() else [] for d in dirs]

    def finished_segments(self) -> list[list[str]]:
        """Per worker, the segments whose end the store accepted."""
        return [FINISHED.findall(self.log(w)) for w in self.workers]


def wait_callback(receiver, url: str, timeout: float = 300) -> str:
    d = receiver.wait_for(lambda d: d.path == receiver.path_of(url), timeout=timeout, what="the run's callback")
    ex = rf.callback_execution(d)
    tasks = ex.findall("Tasks")
    assert [rf.text_of(t, "Type") for t in tasks] == ["Transcode"], d.body[:2000]
    return rf.text_of(ex, "State")


def test_segments_spread_over_workers_and_stitch_exactly(server_factory, shared_substrates, receiver, clip, tmp_path):
    c = Cluster(server_factory, shared_substrates, receiver, "sg")
    started = time.monotonic()
    rf.upload(c.client, c.bucket, "in/marks.mp4", clip.read_bytes())
    assert wait_callback(receiver, c.url) == "Success"
    print(f"upload to callback: {time.monotonic() - started:.1f} s")
    per_worker = c.finished_segments()
    done = [s for w in per_worker for s in w]
    assert len(done) == SEGMENTS and len(set(done)) == SEGMENTS, per_worker
    assert sum(1 for w in per_worker if w) >= 2, f"segments per worker: {per_worker}"
    assert "claimed" not in c.log(c.api)
    # With the blobs on S3, each segment read the input by ranged requests through the
    # worker's loopback server instead of downloading the whole object first (how much it
    # reads is measured by bench/segmented on a large input; this clip fits in the buffers),
    # or, on the parent's worker, from the parent's download kept there.
    reads = [(int(r), int(n)) for w in c.workers for r, n in RANGED.findall(c.log(w))]
    kept = [i for i, w in enumerate(c.workers) for _ in KEPT.findall(c.log(w))]
    assert len(reads) + len(kept) >= SEGMENTS + 1 and all(r > 0 for r, _ in reads), (reads, kept)
    assert len(set(kept)) <= 1, "only the parent's worker keeps its download"
    # The parent ended: every worker's collector removes its kept download.
    deadline = time.monotonic() + 30
    while any(c.kept_inputs()):
        assert time.monotonic() < deadline, f"kept inputs left: {c.kept_inputs()}"
        time.sleep(0.2)
    out = rf.download(c.client, c.bucket, "out/marks.mp4", tmp_path / "out.mp4")
    check_output(out, clip)
    # The job records show the Transcode task only, finished.
    jobs = rf.as_list(c.client.ci_list_media_jobs(Bucket=c.bucket, Tag="Transcode").get("JobsDetail"))
    assert [j["State"] for j in jobs] == ["Success"], jobs


def test_an_input_overwritten_mid_run_fails_naming_its_key(server_factory, shared_substrates, receiver, clip, tmp_path):
    """Overwriting the input through the API deletes its old body at once, under parts that
    read it by ranged requests (they see a 5XX) or have yet to start: the run fails with
    InvalidInput naming the key, never a server-fault message, never pieces of two files."""
    c = Cluster(server_factory, shared_substrates, receiver, "so")
    rf.upload(c.client, c.bucket, "in/marks.mp4", clip.read_bytes())
    deadline = time.monotonic() + 120
    while not any("split into segments" in c.log(w) for w in c.workers):
        assert time.monotonic() < deadline, "the parent did not split"
        time.sleep(0.05)
    other = tmp_path / "other.mp4"
    run("ffmpeg", "-hide_banner", "-loglevel", "error", "-y", "-f", "lavfi", "-i",
        "testsrc2=size=160x120:rate=25:duration=2", "-c:v", "libx264", "-preset", "veryfast", str(other))
    rf.upload(c.client, c.bucket, "in/marks.mp4", other.read_bytes())
    d = receiver.wait_for(lambda d: d.path == receiver.path_of(c.url) and b"<State>Failed</State>" in d.body,
                          timeout=300, what="the first run's failure callback")
    job_id = rf.text_of(rf.callback_execution(d).find("Tasks"), "JobId")
    job = rf.as_list(c.client.ci_get_media_jobs(Bucket=c.bucket, JobIDs=job_id)["JobsDetail"])[0]
    assert job["Code"] == "InvalidInput", job
    assert "in/marks.mp4 was replaced while its segments were encoded" in job["Message"], job
    assert "5XX" not in job["Message"] and "/tmp/" not in job["Message"], job


def test_a_worker_killed_mid_segment_costs_only_its_segment(server_factory, shared_substrates, receiver, clip, tmp_path):
    c = Cluster(server_factory, shared_substrates, receiver, "sk")
    rf.upload(c.client, c.bucket, "in/marks.mp4", clip.read_bytes())
    deadline = time.monotonic() + 120
    victim = None
    while victim is None:
        assert time.monotonic() < deadline, "no worker claimed a segment"
        victim = next((w for w in c.workers if CLAIMED_SEGMENT.search(c.log(w))), None)
        time.sleep(0.05)
    time.sleep(0.5)  # its ffmpeg is encoding
    victim.kill()
    assert wait_callback(receiver, c.url, timeout=400) == "Success"
    survivors = [w for w in c.workers if w is not victim]
    done = [s for w in survivors for s in FINISHED.findall(c.log(w))]
    assert sorted(set(done)) == sorted(done) and len(done) >= 1, done
    out = rf.download(c.client, c.bucket, "out/marks.mp4", tmp_path / "out.mp4")
    check_output(out, clip)


def test_cancelling_the_parent_cancels_its_segments(server_factory, shared_substrates, receiver, clip):
    c = Cluster(server_factory, shared_substrates, receiver, "sc")
    rf.upload(c.client, c.bucket, "in/marks.mp4", clip.read_bytes())
    deadline = time.monotonic() + 120
    while not any(CLAIMED_SEGMENT.search(c.log(w)) for w in c.workers):
        assert time.monotonic() < deadline, "no worker claimed a segment"
        time.sleep(0.05)
    jobs = rf.as_list(c.client.ci_list_media_jobs(Bucket=c.bucket, Tag="Transcode").get("JobsDetail"))
    assert len(jobs) == 1 and jobs[0]["State"] == "Running", jobs
    c.client.ci_cancel_jobs(Bucket=c.bucket, JobID=jobs[0]["JobId"])
    assert wait_callback(receiver, c.url, timeout=60) == "Cancel"
    # The running segments stop within seconds (each part watches its own state), and none
    # finishes after the cancel.
    time.sleep(5)
    assert sum(map(len, c.finished_segments())) < SEGMENTS
    assert rf.list_keys(c.client, c.bucket, "out/") == []
    # A worker that held a segment stopped it, or its late end was refused by the store.
    for w in c.workers:
        if CLAIMED_SEGMENT.search(c.log(w)):
            log = c.log(w)
            assert ("segment cancelled with its task; stopping it" in log
                    or "task was reclaimed before it finished; result dropped" in log), w.log_tail()
    jobs = rf.as_list(c.client.ci_list_media_jobs(Bucket=c.bucket, Tag="Transcode").get("JobsDetail"))
    assert [j["State"] for j in jobs] == ["Cancel"], jobs
