"""Several reelflow processes on one PostgreSQL database and one S3-compatible store (the moto
server that scripts/setup.sh starts): one `--role api` process takes the uploads, `--role worker`
processes run the tasks. Every run completes exactly once, work spreads over the workers, and a
worker SIGKILLed while runs are in flight costs nothing but its lease (issue 10, multi-node).
"""

from __future__ import annotations

import json
import re
import secrets
import time

import reelflow_e2e as rf
from callback_tools import client_command

UPLOADS = 30


def nodes(server) -> dict[str, dict]:
    """`reelflow nodes --json` against `server`: the registry by node id."""
    return {n["id"]: n for n in json.loads(client_command(server, "nodes", "--json").stdout)["nodes"]}


def node_of(server) -> str:
    return (server.data_dir / "node-id").read_text().strip()


def test_api_and_workers_share_postgres_and_s3(server_factory, shared_substrates, receiver, media):
    creds = {"secret_id": "AKID" + secrets.token_hex(16), "secret_key": secrets.token_hex(16)}

    def start(role: str):
        # A short lease: the killed worker's task runs elsewhere after 6 s instead of 30 s.
        env = dict(shared_substrates, REELFLOW_ROLE=role, REELFLOW_WORKERS="1", REELFLOW_TASK_LEASE_SECS="6")
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
    # The registry shows both processes, and the task the worker holds.
    listed = rf.eventually(lambda: (n := nodes(api)).get(node_of(first), {}).get("tasks_held") == 1 and n,
                           timeout=30, what="the worker holding its task in /_reelflow/v1/nodes")
    assert {k: (v["role"], v["state"]) for k, v in listed.items()} == {
        node_of(api): ("api", "Alive"), node_of(first): ("worker", "Alive")}
    assert listed[node_of(api)]["workers"] == 0 and listed[node_of(first)]["workers"] == 1
    second = start("worker")
    first.stop()  # SIGTERM
    assert "handed back tasks" in first.log_path.read_text(errors="replace"), first.log_tail()
    gone = nodes(api)[node_of(first)]
    assert (gone["state"], gone["tasks_held"]) == ("Stopped", 0), gone
    assert gone["metrics"]["tasks_claimed"] >= 1 and gone["metrics"]["tasks_succeeded"] == 0, gone
    # The same per node in the Prometheus exposition, and the table for people.
    metrics = client_command(api, "callbacks", "metrics").stdout
    labels = f'node="{node_of(first)}",role="worker"'
    assert f"reelflow_node_up{{{labels}}} 0" in metrics, metrics
    assert f'reelflow_node_tasks_total{{{labels},event="claimed"}} ' in metrics, metrics
    table = client_command(api, "nodes").stdout
    assert node_of(first) in table and "Stopped" in table, table
    d = receiver.wait_for(lambda d: d.path == receiver.path_of(url), timeout=120, what="the run's callback")
    assert rf.text_of(rf.callback_execution(d), "State") == "Success", d.body[:2000]
    assert "claimed" in second.log_path.read_text(errors="replace")
