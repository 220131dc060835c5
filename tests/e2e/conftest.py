"""Fixtures for the black-box e2e suite: the real `reelflow` binary, the official SDK client,
a callback receiver and generated media.

Environment:
  REELFLOW_BIN    server binary (default <repo>/target/debug/reelflow)
"""

from __future__ import annotations

import base64
import os
import secrets
import shutil
import signal
import socket
import string
import subprocess
import threading
import time
import uuid
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Callable, Iterator

import boto3
import pytest
import requests
from qcloud_cos import CosConfig, CosS3Client

import reelflow_e2e as rf

REPO = Path(__file__).resolve().parents[2]
HEALTH_TIMEOUT = 30.0
STOP_TIMEOUT = 15.0
LOG_TAIL_LINES = 200

# Servers started in this session, so a failing test's report can carry their logs.
_SERVERS: list["ReelflowServer"] = []


# --- helpers --------------------------------------------------------------------------------
def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _random_token(n: int) -> str:
    alphabet = string.ascii_letters + string.digits
    return "".join(secrets.choice(alphabet) for _ in range(n))


# --- the server -----------------------------------------------------------------------------
@dataclass
class ReelflowServer:
    binary: Path
    data_dir: Path
    log_path: Path
    secret_id: str = field(default_factory=lambda: "AKID" + _random_token(32))
    secret_key: str = field(default_factory=lambda: _random_token(32))
    callback_secret: str = field(default_factory=lambda: "whsec_" + base64.b64encode(secrets.token_bytes(32)).decode())
    port: int = field(default_factory=free_port)
    extra_env: dict[str, str] = field(default_factory=dict)
    proc: subprocess.Popen | None = None

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def env(self) -> dict[str, str]:
        env = dict(os.environ)
        env.setdefault("REELFLOW_LOG", "info")
        env.setdefault("RUST_BACKTRACE", "1")
        env.setdefault("NO_COLOR", "1")  # plain server logs in failure reports
        env.update(
            {
                "REELFLOW_SECRET_ID": self.secret_id,
                "REELFLOW_SECRET_KEY": self.secret_key,
                "REELFLOW_CALLBACK_ALLOW_CIDRS": "127.0.0.0/8",
                "REELFLOW_TIMEZONE": "+08:00",
                "REELFLOW_CALLBACK_RETRY_SCHEDULE": "1s,2s,5s",
                "REELFLOW_CALLBACK_SECRET": self.callback_secret,
            }
        )
        env.update(self.extra_env)
        return env

    def start(self) -> "ReelflowServer":
        if not self.binary.is_file():
            pytest.fail(
                f"reelflow binary not found at {self.binary}; build it with `cargo build -p reelflow` "
                "or point REELFLOW_BIN at it",
                pytrace=False,
            )
        self.data_dir.mkdir(parents=True, exist_ok=True)
        log = open(self.log_path, "ab")
        cmd = [str(self.binary), "serve", "--listen", f"127.0.0.1:{self.port}", "--data", str(self.data_dir)]
        log.write(f"$ {' '.join(cmd)}\n".encode())
        log.flush()
        self.proc = subprocess.Popen(
            cmd,
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            env=self.env(),
            cwd=str(self.data_dir.parent),
        )
        log.close()
        if self not in _SERVERS:
            _SERVERS.append(self)
        self.wait_healthy()
        return self

    def wait_healthy(self, timeout: float = HEALTH_TIMEOUT) -> None:
        deadline = time.monotonic() + timeout
        last_err = "no attempt"
        while time.monotonic() < deadline:
            if self.proc is not None and self.proc.poll() is not None:
                pytest.fail(
                    f"reelflow exited with code {self.proc.returncode} before becoming healthy\n"
                    f"--- server log ---\n{self.log_tail()}",
                    pytrace=False,
                )
            try:
                r = requests.get(f"{self.base_url}/_reelflow/health", timeout=2)
                if r.status_code == 200:
                    return
                last_err = f"HTTP {r.status_code}"
            except requests.RequestException as e:
                last_err = type(e).__name__
            time.sleep(0.1)
        self.kill()
        pytest.fail(
            f"reelflow not healthy after {timeout:.0f}s ({last_err})\n--- server log ---\n{self.log_tail()}",
            pytrace=False,
        )

    def running(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def stop(self, timeout: float = STOP_TIMEOUT) -> int | None:
        """SIGTERM, wait; SIGKILL if it does not exit. Returns the exit code (negative = signal)."""
        if self.proc is None:
            return None
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                self.kill()
                return None
        return self.proc.returncode

    def kill(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(timeout=10)

    def log_tail(self, lines: int = LOG_TAIL_LINES) -> str:
        try:
            text = self.log_path.read_text(errors="replace")
        except OSError:
            return "(no log)"
        return "\n".join(text.splitlines()[-lines:])

    def client(self, secret_id: str | None = None, secret_key: str | None = None) -> CosS3Client:
        cfg = CosConfig(
            Region=rf.REGION,
            SecretId=secret_id or self.secret_id,
            SecretKey=secret_key or self.secret_key,
            Scheme="http",
            IP="127.0.0.1",
            Port=self.port,
            Timeout=30,
        )
        return CosS3Client(cfg, retry=0)


def _binary() -> Path:
    return Path(os.environ.get("REELFLOW_BIN") or REPO / "target" / "debug" / "reelflow")


@pytest.fixture(scope="session")
def server_factory(tmp_path_factory) -> Iterator[Callable[..., ReelflowServer]]:
    """Starts extra, independent server instances (each with its own data dir unless given)."""
    started: list[ReelflowServer] = []

    def start(data_dir: Path | None = None, **kwargs) -> ReelflowServer:
        base = tmp_path_factory.mktemp("reelflow")
        srv = ReelflowServer(
            binary=_binary(),
            data_dir=data_dir or base / "data",
            log_path=base / "server.log",
            **kwargs,
        )
        started.append(srv)
        return srv.start()

    yield start
    for srv in started:
        srv.stop()


@pytest.fixture(scope="session")
def server(tmp_path_factory) -> Iterator[ReelflowServer]:
    """One server for the whole session; tests isolate themselves with their own buckets."""
    base = tmp_path_factory.mktemp("reelflow-main")
    srv = ReelflowServer(binary=_binary(), data_dir=base / "data", log_path=base / "server.log")
    srv.start()
    yield srv
    crashed = not srv.running()
    code = srv.stop()
    if crashed:
        pytest.fail(
            f"reelflow died during the session (exit code {code})\n--- server log ---\n{srv.log_tail()}",
            pytrace=False,
        )


@pytest.fixture(scope="session")
def client(server) -> CosS3Client:
    return server.client()


@pytest.fixture
def bucket(client) -> str:
    """A fresh bucket per test."""
    return rf.create_bucket(client)


# --- failure reports carry the server log ------------------------------------------------------
@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    rep = outcome.get_result()
    if rep.failed and _SERVERS:
        for srv in _SERVERS:
            state = "running" if srv.running() else f"exited ({srv.proc.returncode if srv.proc else '?'})"
            rep.sections.append((f"reelflow log {srv.log_path} [{state}]", srv.log_tail()))


# --- callback receiver ----------------------------------------------------------------------
@dataclass
class Delivery:
    method: str
    path: str
    headers: dict[str, str]  # lower-cased names
    body: bytes
    received_at: float
    answered: int

    def header(self, name: str) -> str | None:
        return self.headers.get(name.lower())


class Receiver:
    """A threaded HTTP server on 127.0.0.1 recording every request. Each test asks `url()` for a
    path of its own, so callbacks of different workflows never mix."""

    def __init__(self) -> None:
        self._lock = threading.Condition()
        self._deliveries: list[Delivery] = []
        self._scripted: dict[str, list[int]] = {}
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def _read_body(self) -> bytes:
                if "chunked" in (self.headers.get("Transfer-Encoding") or "").lower():
                    chunks = []
                    while True:
                        size = int(self.rfile.readline().split(b";")[0].strip() or b"0", 16)
                        if size == 0:
                            while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                                pass
                            break
                        chunks.append(self.rfile.read(size))
                        self.rfile.readline()
                    return b"".join(chunks)
                length = int(self.headers.get("Content-Length") or 0)
                return self.rfile.read(length) if length else b""

            def _handle(self) -> None:
                body = self._read_body()
                status = receiver._next_status(self.path)
                receiver._record(
                    Delivery(
                        method=self.command,
                        path=self.path,
                        headers={k.lower(): v for k, v in self.headers.items()},
                        body=body,
                        received_at=time.time(),
                        answered=status,
                    )
                )
                payload = b"ok" if status < 300 else b"scripted failure"
                self.send_response(status)
                self.send_header("Content-Type", "text/plain")
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

            do_POST = _handle
            do_PUT = _handle
            do_GET = _handle

            def log_message(self, *args) -> None:  # keep pytest output clean
                pass

        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._httpd.daemon_threads = True
        self.port = self._httpd.server_address[1]
        self._thread = threading.Thread(target=self._httpd.serve_forever, name="callback-receiver", daemon=True)
        self._thread.start()

    # recording
    def _record(self, d: Delivery) -> None:
        with self._lock:
            self._deliveries.append(d)
            self._lock.notify_all()

    def _next_status(self, path: str) -> int:
        with self._lock:
            queue = self._scripted.get(path)
            return queue.pop(0) if queue else 200

    # API for tests
    def url(self, label: str = "cb") -> str:
        """A fresh callback URL on this receiver."""
        return f"http://127.0.0.1:{self.port}/{label}/{uuid.uuid4().hex}"

    @staticmethod
    def path_of(url: str) -> str:
        return "/" + url.split("/", 3)[3]

    def respond(self, url_or_path: str, statuses: list[int]) -> None:
        """Answer the next requests on that path with these statuses (then 200 again)."""
        path = self.path_of(url_or_path) if url_or_path.startswith("http") else url_or_path
        with self._lock:
            self._scripted[path] = list(statuses)

    def deliveries(self, url_or_path: str | None = None) -> list[Delivery]:
        with self._lock:
            items = list(self._deliveries)
        if url_or_path is None:
            return items
        path = self.path_of(url_or_path) if url_or_path.startswith("http") else url_or_path
        return [d for d in items if d.path == path]

    def wait_for(
        self, predicate: Callable[[Delivery], bool], timeout: float = rf.CALLBACK_TIMEOUT, what: str = "a callback"
    ) -> Delivery:
        """The first recorded delivery (past or future) matching `predicate`."""
        deadline = time.monotonic() + timeout
        with self._lock:
            while True:
                for d in self._deliveries:
                    if predicate(d):
                        return d
                left = deadline - time.monotonic()
                if left <= 0:
                    seen = [(d.method, d.path, d.body[:120]) for d in self._deliveries[-10:]]
                    raise AssertionError(f"no {what} within {timeout:.0f}s; last deliveries: {seen}")
                self._lock.wait(min(left, 0.5))

    def wait_count(self, url: str, n: int, timeout: float = rf.CALLBACK_TIMEOUT) -> list[Delivery]:
        """Waits until at least `n` deliveries arrived on `url`'s path; returns them all."""
        path = self.path_of(url)
        deadline = time.monotonic() + timeout
        with self._lock:
            while True:
                got = [d for d in self._deliveries if d.path == path]
                if len(got) >= n:
                    return got
                left = deadline - time.monotonic()
                if left <= 0:
                    raise AssertionError(f"{len(got)} of {n} callbacks on {path} within {timeout:.0f}s")
                self._lock.wait(min(left, 0.5))

    def close(self) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()


@pytest.fixture(scope="session")
def receiver() -> Iterator[Receiver]:
    r = Receiver()
    yield r
    r.close()


# --- media ------------------------------------------------------------------------------------
@dataclass
class Media:
    dir: Path
    video: Path  # 2 s, 320x240 @ 25 fps, H.264 + AAC 44.1 kHz stereo, mp4

    def video_bytes(self) -> bytes:
        return self.video.read_bytes()

    @staticmethod
    def corrupt_bytes(size: int = 64 * 1024) -> bytes:
        """Random bytes: not a media file whatever its name says."""
        return os.urandom(size)


def make_video(dest: Path, seconds: float = 2.0, size: str = "320x240", rate: int = 25) -> Path:
    ffmpeg = shutil.which("ffmpeg")
    if ffmpeg is None:
        pytest.fail("ffmpeg not found; run scripts/setup.sh", pytrace=False)
    cmd = [
        ffmpeg, "-hide_banner", "-loglevel", "error", "-nostdin", "-y",
        "-f", "lavfi", "-i", f"testsrc2=size={size}:rate={rate}",
        "-f", "lavfi", "-i", "sine=frequency=440:sample_rate=44100",
        "-t", str(seconds),
        "-c:v", "libx264", "-preset", "veryfast", "-pix_fmt", "yuv420p",
        "-c:a", "aac", "-ac", "2", "-b:a", "96k",
        "-movflags", "+faststart",
        str(dest),
    ]  # fmt: skip
    subprocess.run(cmd, check=True, timeout=60)
    return dest


@pytest.fixture(scope="session")
def media(tmp_path_factory) -> Media:
    d = tmp_path_factory.mktemp("media")
    return Media(dir=d, video=make_video(d / "sample.mp4"))


@pytest.fixture(scope="session")
def ffprobe() -> Callable[[Path | str], dict]:
    return rf.ffprobe


@pytest.fixture(scope="session")
def big_video(tmp_path_factory) -> Path:
    """A real mp4 of at least 30 MiB (multipart territory for every client), made once."""
    from transfer_support import make_big_video

    return make_big_video(tmp_path_factory.mktemp("big-media") / "big.mp4")


# --- shared substrates for multi-process tests --------------------------------------------
def _setting(env_name: str, file_name: str) -> str:
    value = os.environ.get(env_name) or ""
    path = REPO / "target" / file_name
    if not value and path.is_file():
        value = path.read_text().strip()
    if not value:
        pytest.fail(f"{env_name} is not set and target/{file_name} is missing: run scripts/setup.sh", pytrace=False)
    return value


@pytest.fixture
def shared_substrates():
    """A fresh PostgreSQL database and a fresh S3 bucket: (database URL, blob settings)."""
    base = _setting("REELFLOW_TEST_DATABASE_URL", "test-database-url")
    name = "rf_cluster_" + uuid.uuid4().hex[:12]
    subprocess.run(["psql", base, "-q", "-c", f"CREATE DATABASE {name}"], check=True)
    database = base.rsplit("/", 1)[0] + "/" + name
    endpoint = _setting("REELFLOW_TEST_S3_ENDPOINT", "test-s3-url")
    bucket = "rf-cluster-" + uuid.uuid4().hex[:10]
    s3 = boto3.client("s3", endpoint_url=endpoint, region_name="us-east-1",
                      aws_access_key_id="test", aws_secret_access_key="test")
    s3.create_bucket(Bucket=bucket)
    env = {
        "REELFLOW_DATABASE_URL": database,
        "REELFLOW_BLOB_URL": f"s3://{bucket}/blobs",
        "REELFLOW_S3_ENDPOINT": endpoint,
        "REELFLOW_S3_REGION": "us-east-1",
        "REELFLOW_S3_ACCESS_KEY_ID": "test",
        "REELFLOW_S3_SECRET_ACCESS_KEY": "test",
    }
    yield env
    subprocess.run(["psql", base, "-q", "-c", f"DROP DATABASE IF EXISTS {name} WITH (FORCE)"], check=False)
