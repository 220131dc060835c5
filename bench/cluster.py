"""Starting a reelflow deployment for the cluster benchmarks (bench/dispatch, bench/ladder).

A deployment is either one process on SQLite + local files (`--role all`), or one `--role api`
process plus N `--role worker` processes on a fresh PostgreSQL database (the test cluster that
scripts/setup.sh starts, URL in target/test-database-url), with object bodies in the moto S3
server (target/test-s3-url) when they must be shared, or in each process's own data directory
when the workers never read them (no-op tasks).
"""

from __future__ import annotations

import os
import secrets
import socket
import subprocess
import time
import uuid
from pathlib import Path

import requests
from qcloud_cos import CosConfig, CosS3Client

REPO = Path(__file__).resolve().parents[1]
BUCKET = "bench-1250000000"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def setting(file_name: str) -> str:
    """target/test-database-url or target/test-s3-url, unless REELFLOW_TEST_DATABASE_URL or
    REELFLOW_TEST_S3_ENDPOINT names another server."""
    env = {"test-database-url": "REELFLOW_TEST_DATABASE_URL", "test-s3-url": "REELFLOW_TEST_S3_ENDPOINT"}
    if os.environ.get(env[file_name]):
        return os.environ[env[file_name]]
    path = REPO / "target" / file_name
    if not path.is_file():
        raise SystemExit(f"target/{file_name} is missing: run scripts/setup.sh first")
    return path.read_text().strip()


def s3_blob_env() -> dict[str, str]:
    """Settings that keep object bodies in a new bucket of the S3 test server."""
    endpoint = setting("test-s3-url")
    blob_bucket = "rf-bench-" + uuid.uuid4().hex[:10]
    import boto3

    boto3.client("s3", endpoint_url=endpoint, region_name="us-east-1", aws_access_key_id="test",
                 aws_secret_access_key="test").create_bucket(Bucket=blob_bucket)
    return dict(REELFLOW_BLOB_URL=f"s3://{blob_bucket}/blobs", REELFLOW_S3_ENDPOINT=endpoint,
                REELFLOW_S3_REGION="us-east-1", REELFLOW_S3_ACCESS_KEY_ID="test",
                REELFLOW_S3_SECRET_ACCESS_KEY="test")


class Process:
    def __init__(self, binary: str, data: Path, env: dict[str, str]) -> None:
        self.port = free_port()
        self.data = data
        self.log = data.parent / f"{data.name}.log"
        data.mkdir(parents=True, exist_ok=True)
        with open(self.log, "ab") as log:
            self.proc = subprocess.Popen(
                [binary, "serve", "--listen", f"127.0.0.1:{self.port}", "--data", str(data)],
                env=env, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
        deadline = time.monotonic() + 30
        while True:
            try:
                if requests.get(f"http://127.0.0.1:{self.port}/_reelflow/health", timeout=1).ok:
                    return
            except requests.RequestException:
                pass
            if self.proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"reelflow did not start; see {self.log}")
            time.sleep(0.05)

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.proc.kill()


class Deployment:
    """`backend` "sqlite": one process with `slots` task slots. "postgres": an API process and
    `workers` worker processes with `slots` slots each."""

    def __init__(self, binary: str, work: Path, backend: str, workers: int, slots: int | None,
                 env: dict[str, str] | None = None, shared_blobs: bool = False,
                 queue_max_concurrent: int | None = 10000) -> None:
        """`slots` and `queue_max_concurrent` None: the service's defaults (or the caller's
        REELFLOW_WORKERS / REELFLOW_QUEUE_MAX_CONCURRENT)."""
        self.backend, self.work = backend, work
        self.sid, self.key = "AKIDbench" + secrets.token_hex(4), secrets.token_hex(16)
        base = dict(os.environ, REELFLOW_SECRET_ID=self.sid, REELFLOW_SECRET_KEY=self.key,
                    REELFLOW_CALLBACK_ALLOW_CIDRS="127.0.0.0/8", REELFLOW_LOG="info", NO_COLOR="1")
        if slots is not None:
            base["REELFLOW_WORKERS"] = str(slots)
        if queue_max_concurrent is not None:
            base["REELFLOW_QUEUE_MAX_CONCURRENT"] = str(queue_max_concurrent)
        base.update(env or {})
        self.database = None
        if backend == "postgres":
            root = setting("test-database-url")
            name = "rf_bench_" + uuid.uuid4().hex[:10]
            subprocess.run(["psql", root, "-q", "-c", f"CREATE DATABASE {name}"], check=True)
            self.database = root.rsplit("/", 1)[0] + "/" + name
            self._root_url, self._db_name = root, name
            base["REELFLOW_DATABASE_URL"] = self.database
            if shared_blobs:
                base.update(s3_blob_env())
            self.api = Process(binary, work / "api", dict(base, REELFLOW_ROLE="api"))
            self.workers = [Process(binary, work / f"worker{i}", dict(base, REELFLOW_ROLE="worker"))
                            for i in range(workers)]
        else:
            self.api = Process(binary, work / "all", dict(base, REELFLOW_ROLE="all"))
            self.workers = []
        cfg = CosConfig(Region="ap-guangzhou", SecretId=self.sid, SecretKey=self.key, Scheme="http",
                        IP="127.0.0.1", Port=self.api.port, Timeout=60)
        self.client = CosS3Client(cfg, retry=1)
        self.client.create_bucket(Bucket=BUCKET)

    @property
    def processes(self) -> list[Process]:
        return [self.api, *self.workers]

    def sql(self, query: str) -> list[list[str]]:
        """Rows of `query` on the deployment's database, as text."""
        if self.database:
            out = subprocess.run(["psql", self.database, "-At", "-F", "\t", "-c", query],
                                 check=True, capture_output=True, text=True).stdout
        else:
            out = subprocess.run(["sqlite3", "-separator", "\t", str(self.api.data / "reelflow.db"), query],
                                 check=True, capture_output=True, text=True).stdout
        return [line.split("\t") for line in out.splitlines() if line]

    def logs(self) -> str:
        return "".join(p.log.read_text(errors="replace") for p in self.processes)

    def stop(self) -> None:
        for p in reversed(self.processes):
            p.stop()
        if self.database:
            subprocess.run(["psql", self._root_url, "-q", "-c", f"DROP DATABASE IF EXISTS {self._db_name} WITH (FORCE)"],
                           check=False)

    def default_queue(self) -> str:
        resp = self.client.ci_get_media_queue(Bucket=BUCKET)
        queues = resp.get("QueueList")
        queue = queues[0] if isinstance(queues, list) else queues
        return queue["QueueId"]

    def set_queue(self, queue_id: str, state: str) -> None:
        self.client.ci_update_media_queue(
            Bucket=BUCKET, QueueId=queue_id,
            Request={"Name": "default", "State": state, "NotifyConfig": {"State": "Off"}})
