"""The `reelflow` command-line client against a real server: objects (multipart, resumed
uploads, streamed downloads), workflows, runs (`runs watch` exit codes), jobs, batch triggers,
`demo` end to end, shell completions and `--output json`.

Every command runs the built binary (target/debug/reelflow) as a user would; the official SDK
is used only to look at the server from the side (ListParts of an interrupted upload, pausing a
queue) so the assertions do not trust the CLI's own account of what it did.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time
from pathlib import Path

import pytest

import reelflow_e2e as rf

MIB = 1024 * 1024
OFFICIAL_360P = "t00000000000000000000000000000f360"


# --- helpers ------------------------------------------------------------------------------------
def _env(server) -> dict[str, str]:
    env = dict(os.environ, REELFLOW_SECRET_ID=server.secret_id, REELFLOW_SECRET_KEY=server.secret_key)
    for name in ("RUST_BACKTRACE", "REELFLOW_BUCKET", "REELFLOW_SERVER"):
        env.pop(name, None)
    return env


def _cmd(server, args: tuple[str, ...]) -> list[str]:
    return [str(server.binary), *args, "--server", server.base_url]


def run_cli(server, *args: str, check: bool = True, timeout: float = 120) -> subprocess.CompletedProcess:
    """`reelflow ARGS --server URL`; with `check`, exit status 0 is required."""
    done = subprocess.run(_cmd(server, args), env=_env(server), capture_output=True, text=True, timeout=timeout)
    if check:
        assert done.returncode == 0, f"{' '.join(args)} exited {done.returncode}: {done.stderr}\n{done.stdout}"
    return done


def cli_json(server, *args: str) -> dict:
    """`reelflow ARGS --output json`, parsed (the whole stdout must be one JSON document)."""
    return json.loads(run_cli(server, *args, "--output", "json").stdout)


def random_file(path: Path, size: int) -> Path:
    path.write_bytes(os.urandom(size))
    return path


def write_json(path: Path, value: dict) -> Path:
    path.write_text(json.dumps(value))
    return path


def workflow_json(bucket: str, name: str, state: str = "Active", notify_url: str | None = None) -> dict:
    node = {"Transcode_1": rf.transcode_node(OFFICIAL_360P, bucket, "out/${RunId}/${InputName}.${Ext}")}
    return rf.workflow_body(name, node, notify_url=notify_url, state=state)


def workflow_xml(bucket: str, name: str) -> str:
    return f"""<Request><MediaWorkflow><Name>{name}</Name><State>Paused</State><Topology>
  <Dependencies><Start>Snapshot_1</Start><Snapshot_1>End</Snapshot_1></Dependencies>
  <Nodes>
    <Start><Type>Start</Type><Input><ObjectPrefix>input/</ObjectPrefix>
      <ExtFilter><State>On</State><Video>true</Video></ExtFilter></Input></Start>
    <Snapshot_1><Type>Snapshot</Type><Operation><TemplateId>t000000000000000000000000000000c01</TemplateId>
      <Output><Region>ap-guangzhou</Region><Bucket>{bucket}</Bucket><Object>snap/${{Number}}.jpg</Object></Output>
    </Operation></Snapshot_1>
  </Nodes></Topology></MediaWorkflow></Request>"""


def create_workflow(server, tmp_path: Path, bucket: str, name: str, **kwargs) -> str:
    path = write_json(tmp_path / f"{name}.json", workflow_json(bucket, name, **kwargs))
    return cli_json(server, "workflow", "create", "-f", str(path), "-b", bucket)["MediaWorkflow"]["WorkflowId"]


def run_of(server, bucket: str, workflow: str, key: str) -> str:
    def found():
        runs = cli_json(server, "runs", "ls", "-b", bucket, "--workflow", workflow)["runs"]
        return next((r["RunId"] for r in runs if r["Object"] == key), None)

    return rf.eventually(found, 30, 0.2, f"the run of {key}")


def uploads_of(client, bucket: str, key: str) -> list[dict]:
    resp = client.list_multipart_uploads(Bucket=bucket, Prefix=key)
    return [u for u in rf.as_list(resp.get("Upload")) if u["Key"] == key]


def parts_of(client, bucket: str, key: str, upload_id: str) -> list[dict]:
    return rf.as_list(client.list_parts(Bucket=bucket, Key=key, UploadId=upload_id).get("Part"))


# --- objects ------------------------------------------------------------------------------------
def test_put_get_round_trip_of_a_multipart_file(server, bucket, tmp_path):
    src = random_file(tmp_path / "big.bin", 20 * MIB + 12345)
    put = cli_json(server, "put", str(src), f"cos://{bucket}/in/")
    assert put["key"] == "in/big.bin" and put["multipart"] is True, put
    assert (put["parts_total"], put["parts_uploaded"], put["parts_reused"]) == (3, 3, 0), put
    assert put["etag"].endswith("-3"), put
    dest = tmp_path / "back.bin"
    got = cli_json(server, "get", f"cos://{bucket}/in/big.bin", str(dest))
    assert got["bytes"] == src.stat().st_size
    assert dest.read_bytes() == src.read_bytes()
    assert not list(tmp_path.glob("*.reelflow-part")), "the download's temporary file was left behind"
    # A small file is one PUT.
    small = random_file(tmp_path / "small.bin", 1000)
    put = cli_json(server, "put", str(small), f"cos://{bucket}/in/small.bin")
    assert put["multipart"] is False and put["size"] == 1000, put
    run_cli(server, "get", f"cos://{bucket}/in/small.bin", str(tmp_path))
    assert (tmp_path / "small.bin").read_bytes() == small.read_bytes()


def test_an_interrupted_put_resumes_with_only_the_missing_parts(server, client, bucket, tmp_path):
    src = random_file(tmp_path / "resume.bin", 64 * MIB + 7)  # 9 parts of 8 MiB
    key = "in/resume.bin"
    # 16 MiB/s, one part at a time: two parts a second, so the kill lands mid-upload.
    proc = subprocess.Popen(
        _cmd(server, ("put", str(src), f"cos://{bucket}/{key}", "--parallel", "1", "--limit-rate", "16MiB")),
        env=_env(server), stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
    )  # fmt: skip
    try:

        def some_parts():
            ups = uploads_of(client, bucket, key)
            return ups and len(parts_of(client, bucket, key, ups[0]["UploadId"])) >= 2

        rf.eventually(some_parts, 30, 0.05, "two uploaded parts")
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=10)
    time.sleep(0.5)  # a part whose body had fully arrived may still be committing
    [upload] = uploads_of(client, bucket, key)
    before = parts_of(client, bucket, key, upload["UploadId"])
    assert 2 <= len(before) < 9, before
    put = cli_json(server, "put", str(src), f"cos://{bucket}/{key}")
    assert put["resumed"] is True and put["upload_id"] == upload["UploadId"], put
    assert put["parts_reused"] == len(before), (put, before)
    assert put["parts_uploaded"] == 9 - len(before), put
    assert uploads_of(client, bucket, key) == []  # completed
    dest = tmp_path / "resumed.out"
    run_cli(server, "get", f"cos://{bucket}/{key}", str(dest))
    assert dest.read_bytes() == src.read_bytes()


def test_a_resumed_put_re_sends_parts_whose_bytes_changed(server, client, bucket, tmp_path):
    """A part already on the server is kept only if its MD5 matches the file's bytes."""
    src = random_file(tmp_path / "f.bin", 17 * MIB)
    key = "in/f.bin"
    upload_id = client.create_multipart_upload(Bucket=bucket, Key=key)["UploadId"]
    client.upload_part(Bucket=bucket, Key=key, Body=src.read_bytes()[: 8 * MIB], PartNumber=1, UploadId=upload_id)
    client.upload_part(Bucket=bucket, Key=key, Body=os.urandom(8 * MIB), PartNumber=2, UploadId=upload_id)
    put = cli_json(server, "put", str(src), f"cos://{bucket}/{key}")
    assert (put["upload_id"], put["parts_reused"], put["parts_uploaded"]) == (upload_id, 1, 2), put
    dest = tmp_path / "f.out"
    run_cli(server, "get", f"cos://{bucket}/{key}", str(dest))
    assert dest.read_bytes() == src.read_bytes()


def test_mb_ls_and_rm(server, tmp_path):
    bucket = rf.new_bucket_name("cli")
    assert cli_json(server, "mb", f"cos://{bucket}") == {"bucket": bucket, "created": True}
    assert bucket in [b["name"] for b in cli_json(server, "ls")["buckets"]]
    assert bucket in run_cli(server, "ls").stdout  # the table
    f = random_file(tmp_path / "x.bin", 10)
    for key in ("a/1.bin", "a/2.bin", "a/b/3.bin", "top.bin"):
        run_cli(server, "put", str(f), f"cos://{bucket}/{key}")
    level = cli_json(server, "ls", f"cos://{bucket}/a/")
    assert [o["key"] for o in level["objects"]] == ["a/1.bin", "a/2.bin"] and level["prefixes"] == ["a/b/"]
    assert all(o["size"] == 10 for o in level["objects"])
    deep = cli_json(server, "ls", "--recursive", f"cos://{bucket}/a/")
    assert [o["key"] for o in deep["objects"]] == ["a/1.bin", "a/2.bin", "a/b/3.bin"]
    assert json.loads(run_cli(server, "ls", "--json", f"cos://{bucket}/").stdout)["prefixes"] == ["a/"]  # --json alias
    run_cli(server, "rm", f"cos://{bucket}/top.bin")
    assert cli_json(server, "rm", "-r", f"cos://{bucket}/a/")["deleted"] == [
        f"cos://{bucket}/a/1.bin", f"cos://{bucket}/a/2.bin", f"cos://{bucket}/a/b/3.bin"]  # fmt: skip
    assert cli_json(server, "ls", "-r", f"cos://{bucket}/")["objects"] == []
    missing = run_cli(server, "get", f"cos://{bucket}/nope.bin", str(tmp_path / "n"), check=False)
    assert missing.returncode == 1 and "NoSuchKey" in missing.stderr, missing.stderr


# --- workflows ----------------------------------------------------------------------------------
def test_workflow_create_from_xml_and_json_activate_pause_show(server, bucket, tmp_path):
    xml_file = tmp_path / "wf.xml"
    xml_file.write_text(workflow_xml(bucket, "from-xml"))
    created = cli_json(server, "workflow", "create", "-f", str(xml_file), "-b", bucket)["MediaWorkflow"]
    assert rf.WORKFLOW_ID.match(created["WorkflowId"]) and created["State"] == "Paused", created
    from_json = create_workflow(server, tmp_path, bucket, "from-json", state="Paused")
    listed = {w["Name"]: w for w in cli_json(server, "workflow", "ls", "-b", bucket)["workflows"]}
    assert set(listed) == {"from-xml", "from-json"}
    assert listed["from-json"]["WorkflowId"] == from_json
    assert listed["from-json"]["Topology"]["Nodes"]["Transcode_1"]["Operation"]["TemplateId"] == OFFICIAL_360P
    active = cli_json(server, "workflow", "activate", from_json, "-b", bucket)["MediaWorkflow"]
    assert active["State"] == "Active"
    shown = cli_json(server, "workflow", "show", from_json, "-b", bucket)["MediaWorkflowList"]
    assert [w["State"] for w in shown] == ["Active"]
    paused = cli_json(server, "workflow", "pause", from_json, "-b", bucket)["MediaWorkflow"]
    assert paused["State"] == "Paused"
    table = run_cli(server, "workflow", "show", created["WorkflowId"], "-b", bucket).stdout
    assert "Snapshot_1" in table and "Snapshot" in table and f"cos://{bucket}/snap/${{Number}}.jpg" in table
    bad = run_cli(server, "workflow", "show", "w" + "0" * 32, "-b", bucket, check=False)
    assert bad.returncode == 1 and "does not exist" in bad.stderr
    assert cli_json(server, "workflow", "rm", created["WorkflowId"], "-b", bucket)["WorkflowId"] == created["WorkflowId"]
    assert [w["Name"] for w in cli_json(server, "workflow", "ls", "-b", bucket)["workflows"]] == ["from-json"]
    nobucket = run_cli(server, "workflow", "ls", check=False)
    assert nobucket.returncode == 1 and "--bucket" in nobucket.stderr


# --- runs ---------------------------------------------------------------------------------------
def test_runs_watch_exits_0_for_success_and_3_for_failure(server, bucket, media, tmp_path):
    wf = create_workflow(server, tmp_path, bucket, "watched")
    run_cli(server, "put", str(media.video), f"cos://{bucket}/input/good.mp4")
    good = run_of(server, bucket, wf, "input/good.mp4")
    watched = run_cli(server, "runs", "watch", good, "-b", bucket, "--timeout", "120")
    assert "run: Success" in watched.stdout and "Transcode_1" in watched.stdout, watched.stdout
    shown = cli_json(server, "runs", "show", good, "-b", bucket)
    assert shown["State"] == "Success" and [t["State"] for t in shown["Tasks"]] == ["Success"], shown
    bad_file = tmp_path / "bad.mp4"
    bad_file.write_bytes(media.corrupt_bytes())
    run_cli(server, "put", str(bad_file), f"cos://{bucket}/input/bad.mp4")
    bad = run_of(server, bucket, wf, "input/bad.mp4")
    failed = run_cli(server, "runs", "watch", bad, "-b", bucket, "--output", "json", check=False)
    assert failed.returncode == 3, (failed.returncode, failed.stderr)
    doc = json.loads(failed.stdout)
    assert doc["State"] == "Failed" and doc["Tasks"][0]["Code"], doc
    only_failed = cli_json(server, "runs", "ls", "-b", bucket, "--state", "Failed", "--since", "1h")["runs"]
    assert [r["RunId"] for r in only_failed] == [bad]
    assert cli_json(server, "runs", "ls", "-b", bucket, "--until", "2000-01-01T00:00:00Z")["runs"] == []


# --- jobs and batches -----------------------------------------------------------------------------
def test_jobs_submit_show_cancel(server, client, bucket, media):
    run_cli(server, "put", str(media.video), f"cos://{bucket}/src/a.mp4")
    common = ["--tag", "Transcode", "--input", "src/a.mp4", "--template", OFFICIAL_360P]
    done = cli_json(server, "jobs", "submit", "-b", bucket, *common, "--to", f"cos://{bucket}/jobs/a.mp4", "--wait")
    [job] = done["JobsDetail"]
    assert job["State"] == "Success" and rf.JOB_ID.match(job["JobId"]), job
    assert cli_json(server, "jobs", "show", job["JobId"], "-b", bucket)["JobsDetail"][0]["State"] == "Success"
    assert job["JobId"] in [j["JobId"] for j in cli_json(server, "jobs", "ls", "-b", bucket)["JobsDetail"]]
    # A paused queue holds the next job, so the cancel always finds it unfinished.
    queue = rf.as_list(client.ci_get_media_queue(Bucket=bucket).get("QueueList"))[0]
    client.ci_update_media_queue(
        Bucket=bucket, QueueId=queue["QueueId"],
        Request={"Name": queue["Name"], "QueueID": queue["QueueId"], "State": "Paused"},
    )  # fmt: skip
    held = cli_json(server, "jobs", "submit", "-b", bucket, *common, "--to", f"cos://{bucket}/jobs/b.mp4")
    held_id = held["JobsDetail"][0]["JobId"]
    assert cli_json(server, "jobs", "cancel", held_id, "-b", bucket) == {"cancelled": held_id}
    assert cli_json(server, "jobs", "show", held_id, "-b", bucket)["JobsDetail"][0]["State"] == "Cancel"
    again = run_cli(server, "jobs", "cancel", held_id, "-b", bucket, check=False)
    assert again.returncode == 1 and "already finished" in again.stderr, again.stderr


def test_jobs_submit_from_a_json_file(server, bucket, media, tmp_path):
    run_cli(server, "put", str(media.video), f"cos://{bucket}/src/a.mp4")
    body = {"Tag": "MediaInfo", "Input": {"Object": "src/a.mp4"}}
    job = cli_json(server, "jobs", "submit", "-b", bucket, "-f", str(write_json(tmp_path / "job.json", body)), "--wait")
    [detail] = job["JobsDetail"]
    assert detail["State"] == "Success" and detail["Operation"]["MediaInfo"], detail


def test_batch_create_ls_show(server, bucket, media, tmp_path):
    wf = create_workflow(server, tmp_path, bucket, "batched", state="Paused")
    for key in ("input/1.mp4", "input/2.mp4"):
        run_cli(server, "put", str(media.video), f"cos://{bucket}/{key}")
    created = cli_json(server, "batch", "create", "-b", bucket, "--name", "backfill", "--workflow", wf, "--prefix", "input/")
    batch_id = created["JobsDetail"][0]["JobId"]
    assert batch_id.startswith("b") and created["JobsDetail"][0]["Name"] == "backfill", created

    def ended():
        detail = cli_json(server, "batch", "show", batch_id, "-b", bucket)["JobsDetail"][0]
        return detail if detail["State"] in ("Success", "Failed") else None

    detail = rf.eventually(ended, 120, 0.5, "the batch's end")
    assert detail["State"] == "Success" and detail["Statistics"]["Submitted"] == "2", detail
    assert sorted(r["Object"] for r in detail["Result"]) == ["input/1.mp4", "input/2.mp4"]
    assert batch_id in [b["JobId"] for b in cli_json(server, "batch", "ls", "-b", bucket)["JobsDetail"]]
    assert "backfill" in run_cli(server, "batch", "show", batch_id, "-b", bucket).stdout


# --- demo, completions ----------------------------------------------------------------------------
def test_demo_end_to_end_prints_the_callback(server):
    done = run_cli(server, "demo", timeout=300)
    out = done.stdout
    assert "callback received: POST /callback" in out, out
    assert "<WorkflowExecution>" in out and "<State>Success</State>" in out, out
    assert "Transcode_1: Success" in out and "Snapshot_1: Success" in out, out


def test_demo_json_output_carries_the_callback(server):
    doc = cli_json(server, "demo")
    assert doc["succeeded"] is True and rf.RUN_ID.match(doc["run_id"]), doc
    assert doc["callback"]["webhook_id"] == f"msg_{doc['run_id']}_workflowfinish"
    assert f"<RunId>{doc['run_id']}</RunId>" in doc["callback"]["body"]
    # The server's side of the same delivery, through `callbacks ls` (alias of `list`).
    [message] = cli_json(server, "callbacks", "ls", f"--run={doc['run_id']}")["callbacks"]
    assert message["id"] == doc["callback"]["webhook_id"] and message["state"] == "Delivered", message
    run = cli_json(server, "runs", "show", doc["run_id"], "-b", doc["bucket"])
    assert sorted(t["Name"] for t in run["Tasks"]) == ["Snapshot_1", "Transcode_1"]


def test_demo_explains_a_refused_loopback_callback(server_factory):
    strict = server_factory(extra_env={"REELFLOW_CALLBACK_ALLOW_CIDRS": ""})
    done = run_cli(strict, "demo", "--callback-wait", "3", check=False, timeout=300)
    assert done.returncode == 1, done.stdout
    assert "REELFLOW_CALLBACK_ALLOW_CIDRS=127.0.0.0/8" in done.stderr, done.stderr


@pytest.mark.parametrize("shell", ["bash", "zsh", "fish"])
def test_completions(server, shell):
    done = subprocess.run([str(server.binary), "completions", shell], capture_output=True, text=True, timeout=30)
    assert done.returncode == 0 and len(done.stdout) > 1000, done.stderr
    assert "workflow" in done.stdout and "runs" in done.stdout
