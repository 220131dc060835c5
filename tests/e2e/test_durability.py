"""Accepted uploads and accepted runs survive SIGKILL of the server: the interrupted task is
requeued at restart, its orphaned ffmpeg is killed, and the run completes with one callback."""

from __future__ import annotations

import subprocess
import time
import xml.etree.ElementTree as ET

import reelflow_e2e as rf
from conftest import make_video


def ffmpeg_processes(marker: str) -> list[str]:
    out = subprocess.run(["pgrep", "-af", "ffmpeg"], capture_output=True, text=True).stdout
    return [line for line in out.splitlines() if marker in line]


def test_a_run_interrupted_by_sigkill_completes_after_restart(server_factory, receiver, tmp_path):
    data = tmp_path / "data"
    first = server_factory(data_dir=data)
    client = first.client()
    bucket = rf.create_bucket(client, "durable")
    # H.265 with a slow preset on a 20 s clip: long enough to be killed mid-encode.
    slow = client.ci_create_template(Bucket=bucket, Template={
        "Tag": "Transcode", "Name": "slow", "Container": {"Format": "mp4"},
        "Video": {"Codec": "H.265", "Preset": "slow", "Width": "640"},
    })["Template"]["TemplateId"]
    url = receiver.url("durable")
    body = rf.workflow_body(
        name="durable", prefix="in/", notify_url=url,
        nodes={"T": rf.transcode_node(slow, bucket, "out/${RunId}/t.${Ext}")},
    )
    wf = rf.create_workflow(client, bucket, body)
    src = make_video(tmp_path / "long.mp4", seconds=20, size="640x360")
    rf.upload(client, bucket, "in/long.mp4", src.read_bytes())
    run_id = rf.eventually(lambda: (rf.list_executions(client, bucket, wf) or [None])[0], 20, 0.2, "a run")["RunId"]

    def task_state():
        tasks = rf.as_list(rf.get_execution(client, bucket, run_id).get("Tasks"))
        return tasks[0]["State"] if tasks else None

    rf.eventually(lambda: task_state() == "Running", 30, 0.2, "the task running")
    time.sleep(1.0)
    first.kill()  # SIGKILL: the ffmpeg child is orphaned, the task stays Running in the database
    work = str(data / "work")
    assert ffmpeg_processes(work), "ffmpeg survived the server (it is an orphan now)"

    second = server_factory(data_dir=data, secret_id=first.secret_id, secret_key=first.secret_key, port=first.port)
    client = second.client()
    # The restart killed the orphan before requeueing the task.
    rf.eventually(lambda: len(ffmpeg_processes(work)) <= 1, 10, 0.2, "the orphan killed")
    deliveries = receiver.wait_count(url, 1, timeout=120)
    doc = ET.fromstring(deliveries[0].body)
    execution = doc.find("WorkflowExecution")
    assert execution.findtext("RunId") == run_id
    assert execution.findtext("State") == "Success"
    assert len(execution.findall("Tasks")) == 1
    # The uploaded object is intact and the output exists.
    head = rf.lower_keys(client.head_object(Bucket=bucket, Key="in/long.mp4"))
    assert head["content-length"] == str(src.stat().st_size)
    keys = rf.list_keys(client, bucket, f"out/{run_id}/")
    assert keys == [f"out/{run_id}/t.mp4"]
    time.sleep(1.0)
    assert len(receiver.deliveries(url)) == 1, "one callback for one run"


def test_a_task_that_keeps_killing_its_worker_fails_after_its_attempts(server_factory, receiver, tmp_path):
    """A poison task: every process that runs it dies (SIGKILL while it runs). Each loss counts
    as a failed attempt, so with REELFLOW_TASK_MAX_ATTEMPTS=2 the third process fails the task
    without running it, naming the cause, and the run's callback reports Failed."""
    data = tmp_path / "data"
    env = {"REELFLOW_TASK_MAX_ATTEMPTS": "2", "REELFLOW_WORKERS": "1"}
    server = server_factory(data_dir=data, extra_env=env)
    client = server.client()
    bucket = rf.create_bucket(client, "poison")
    slow = client.ci_create_template(Bucket=bucket, Template={
        "Tag": "Transcode", "Name": "slow", "Container": {"Format": "mp4"},
        "Video": {"Codec": "H.265", "Preset": "slow", "Width": "640"},
    })["Template"]["TemplateId"]
    url = receiver.url("poison")
    body = rf.workflow_body(name="poison", prefix="in/", notify_url=url,
                            nodes={"T": rf.transcode_node(slow, bucket, "out/${RunId}.${Ext}")})
    rf.create_workflow(client, bucket, body)
    src = make_video(tmp_path / "long.mp4", seconds=20, size="640x360")
    rf.upload(client, bucket, "in/long.mp4", src.read_bytes())
    for life in range(2):
        # Killed each time it holds the task (the log shows the claim of this life).
        rf.eventually(lambda: server.log_path.read_text(errors="replace").count("claimed tasks=1") > life,
                      60, 0.05, f"claim number {life + 1}")
        server.kill()
        server.start()
    d = receiver.wait_for(lambda d: d.path == receiver.path_of(url), timeout=60, what="the run's callback")
    execution = ET.fromstring(d.body).find("WorkflowExecution")
    assert execution.findtext("State") == "Failed", d.body[:1500]
    assert execution.find("Tasks").findtext("State") == "Failed", d.body[:1500]
    # The job record says why (callbacks keep the seed's shape, without Code/Message).
    job_id = execution.find("Tasks").findtext("JobId")
    job = rf.as_list(server.client().ci_get_media_jobs(Bucket=bucket, JobIDs=job_id)["JobsDetail"])[0]
    assert job["Code"] == "WorkerLost", job
    assert "gave up after 2 attempts" in job["Message"], job
    assert server.log_path.read_text(errors="replace").count("claimed tasks=1") == 3
