"""Several reelflow processes on one PostgreSQL database and one S3-compatible store (the moto
server that scripts/setup.sh starts): one `--role api` process takes the uploads, `--role worker`
processes run the tasks. Every run completes exactly once, work spreads over the workers, and a
worker SIGKILLed while runs are in flight costs nothing but its lease (issue 10, multi-node).
"""

from __future__ import annotations

import os
import re
import secrets
import subprocess
import time
import uuid
from pathlib import Path

import boto3
import pytest

import reelflow_e2e as rf

REPO = Path(__file__).resolve().parents[2]
UPLOADS = 30


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


def test_api_and_workers_share_postgres_and_s3(server_factory, shared_substrates, receiver, media):
    creds = {"secret_id": "AKID" + secrets.token_hex(16), "secret_key": secrets.token_hex(16)}

    def start(role: str):
        env = dict(shared_substrates, REELFLOW_ROLE=role, REELFLOW_WORKERS="1")
        return server_factory(extra_env=env, **creds)

    api = start("api")
    workers = [start("worker"), start("worker"), start("worker")]
    client = api.client()
    bucket = rf.create_bucket(client, "cl")
    url = receiver.url("cluster")
    tpl = rf.create_transcode_template(client, bucket, "small", 160, 128)
    node = rf.transcode_node(tpl, bucket, "out/${InputName}.${Ext}")
    body = rf.workflow_body("cluster", {"Snapshot_1": node}, notify_url=url, prefix="in/")
    wid = rf.create_workflow(client, bucket, body)
    video = media.video_bytes()
    for i in range(UPLOADS):
        rf.upload(client, bucket, f"in/clip{i:02d}.mp4", video)
    # SIGKILL the first worker as soon as it holds a task: its lease expires and another worker
    # runs the task again, replacing (never duplicating) the outputs.
    deadline = time.monotonic() + 60
    while "claimed" not in workers[0].log_path.read_text(errors="replace"):
        assert time.monotonic() < deadline, "the first worker never claimed a task"
        time.sleep(0.02)
    workers[0].kill()

    # At least once: a run may be called back twice (same webhook-id) around the kill.
    finished: dict[str, str] = {}
    deadline = time.monotonic() + 240
    while len(finished) < UPLOADS and time.monotonic() < deadline:
        for d in receiver.deliveries(url):
            ex = rf.callback_execution(d)
            finished.setdefault(rf.text_of(ex, "RunId"), rf.text_of(ex, "State"))
        time.sleep(0.5)
    assert len(finished) == UPLOADS, f"{len(finished)} distinct runs called back, want {UPLOADS}"
    assert set(finished.values()) == {"Success"}, finished
    runs = rf.list_executions(client, bucket, wid, Size=100)
    assert len(runs) == UPLOADS, f"{len(runs)} runs for {UPLOADS} uploads"
    keys = {o["Key"] for o in rf.as_list(client.list_objects(Bucket=bucket, Prefix="out/").get("Contents"))}
    assert keys == {f"out/clip{i:02d}.mp4" for i in range(UPLOADS)}, sorted(keys)

    # Work went to the workers only; the surviving worker took part.
    claimed = [len(re.findall(r"claimed", w.log_path.read_text(errors="replace"))) for w in workers]
    assert "claimed" not in api.log_path.read_text(errors="replace")
    assert all(n > 0 for n in claimed[1:]), f"tasks claimed per worker: {claimed}"
    assert sum(claimed) >= UPLOADS, claimed


def test_a_worker_stopping_gracefully_hands_back_its_task(server_factory, shared_substrates, receiver, tmp_path):
    """SIGTERM of a worker holding a task: the task is interrupted and handed back at once
    (not left to its lease), another worker runs it, and the run succeeds."""
    from conftest import make_video

    creds = {"secret_id": "AKID" + secrets.token_hex(16), "secret_key": secrets.token_hex(16)}

    def start(role: str):
        env = dict(shared_substrates, REELFLOW_ROLE=role, REELFLOW_WORKERS="1")
        return server_factory(extra_env=env, **creds)

    api = start("api")
    first = start("worker")
    client = api.client()
    bucket = rf.create_bucket(client, "hb")
    url = receiver.url("handback")
    tpl = rf.create_transcode_template(client, bucket, "slow", 640, 480)
    body = rf.workflow_body("handback", {"Transcode_1": rf.transcode_node(tpl, bucket, "out/${InputName}.${Ext}")},
                            notify_url=url, prefix="in/")
    rf.create_workflow(client, bucket, body)
    clip = make_video(tmp_path / "long.mp4", seconds=8.0, size="1280x720")
    rf.upload(client, bucket, "in/long.mp4", clip.read_bytes())
    deadline = time.monotonic() + 60
    while "claimed" not in first.log_path.read_text(errors="replace"):
        assert time.monotonic() < deadline, "the worker never claimed the task"
        time.sleep(0.02)
    second = start("worker")
    first.stop()  # SIGTERM
    assert "handed back tasks" in first.log_path.read_text(errors="replace"), first.log_tail()
    d = receiver.wait_for(lambda d: d.path == receiver.path_of(url), timeout=120, what="the run's callback")
    assert rf.text_of(rf.callback_execution(d), "State") == "Success", d.body[:2000]
    assert "claimed" in second.log_path.read_text(errors="replace")
