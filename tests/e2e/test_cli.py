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
import re
import signal
import subprocess
import time
import unicodedata
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


def _width(text: str) -> int:
    """Terminal columns of `text`: East Asian wide and fullwidth characters take two."""
    return sum(2 if unicodedata.east_asian_width(c) in "WF" else 1 for c in text)


def assert_table(text: str) -> None:
    """`text` (one table: header and rows) is aligned in terminal columns: cell i of every line
    starts (left-aligned) or ends (right-aligned) at the same column, and each column is as wide
    as its widest cell, two spaces from the next (no header wider than its data, no row
    unpadded)."""
    lines = [line for line in text.splitlines() if line.strip()]
    spans = []  # per line: [(start, end)] of its cells, in terminal columns
    for line in lines:
        cells = []
        for m in re.finditer(r"\S+(?: \S+)*", line):
            start = _width(line[: m.start()])
            cells.append((start, start + _width(m.group())))
        spans.append(cells)
    count = len(spans[0])
    assert all(len(c) == count for c in spans), f"rows with other cell counts:\n{text}"
    for i in range(count):
        starts = {c[i][0] for c in spans}
        ends = {c[i][1] for c in spans}
        assert len(starts) == 1 or len(ends) == 1, f"column {i} is not aligned:\n{text}"
        if i + 1 < count:
            gap = min(c[i + 1][0] for c in spans) - max(c[i][1] for c in spans)
            assert gap == 2, f"column {i} is {gap - 2} wider than its widest cell:\n{text}"


TABLE_TIME = re.compile(r"\b\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ\b")


def assert_times_printed_one_way(text: str) -> None:
    """Every time in `text` is RFC 3339 in UTC to the second (`2026-12-01T00:47:34Z`)."""
    stamps = re.findall(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\S*", text)
    assert stamps and all(TABLE_TIME.fullmatch(t) for t in stamps), f"{stamps}\n{text}"


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
    assert nobucket.returncode == 2 and "--bucket" in nobucket.stderr


# --- runs ---------------------------------------------------------------------------------------
def test_runs_watch_exits_0_for_success_and_3_for_failure(server, bucket, media, tmp_path):
    wf = create_workflow(server, tmp_path, bucket, "watched")
    run_cli(server, "put", str(media.video), f"cos://{bucket}/input/good.mp4")
    good = run_of(server, bucket, wf, "input/good.mp4")
    watched = run_cli(server, "runs", "watch", good, "-b", bucket, "--timeout", "120")
    assert "run: Success" in watched.stdout and "Transcode_1" in watched.stdout, watched.stdout
    shown = cli_json(server, "runs", "show", good, "-b", bucket)
    assert shown["State"] == "Success" and [t["State"] for t in shown["Tasks"]] == ["Success"], shown
    # The table names the output objects, as `get` takes them.
    table = run_cli(server, "runs", "show", good, "-b", bucket).stdout
    assert f"cos://{bucket}/out/{good}/good.mp4" in table, table
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
    keys = ["input/1.mp4", "input/2.mp4", "input/视频 ü.mp4"]
    for key in keys:
        run_cli(server, "put", str(media.video), f"cos://{bucket}/{key}")
    created = cli_json(server, "batch", "create", "-b", bucket, "--name", "backfill", "--workflow", wf, "--prefix", "input/")
    batch_id = created["JobsDetail"][0]["JobId"]
    assert batch_id.startswith("b") and created["JobsDetail"][0]["Name"] == "backfill", created

    def ended():
        detail = cli_json(server, "batch", "show", batch_id, "-b", bucket)["JobsDetail"][0]
        return detail if detail["State"] in ("Success", "Failed") else None

    detail = rf.eventually(ended, 120, 0.5, "the batch's end")
    assert detail["State"] == "Success" and detail["Statistics"]["Submitted"] == "3", detail
    assert sorted(r["Object"] for r in detail["Result"]) == sorted(keys)
    assert batch_id in [b["JobId"] for b in cli_json(server, "batch", "ls", "-b", bucket)["JobsDetail"]]
    shown = run_cli(server, "batch", "show", batch_id, "-b", bucket).stdout
    assert "backfill" in shown and "input/视频 ü.mp4" in shown, shown
    # Both tables line up in terminal columns, the wide CJK key included; times as `…Z`.
    batches, results = shown.strip("\n").split("\n\n")
    assert_table(batches)
    assert_table(results)
    assert_times_printed_one_way(batches)


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
    # As tables: aligned on the widest cell, times printed as everywhere else.
    listed = run_cli(server, "callbacks", "ls", f"--run={doc['run_id']}").stdout
    assert message["id"] in listed, listed
    assert_table(listed)
    assert_times_printed_one_way(listed)
    shown = run_cli(server, "callbacks", "show", message["id"]).stdout
    attempts = shown[shown.index("\n#") + 1 :]
    assert_table(attempts)
    assert_times_printed_one_way(attempts)
    # `--since`/`--until` take what `runs ls` takes: ages, RFC 3339 (any offset form), Unix seconds.
    hour_ago = time.time() - 3600
    for since in ("1h", "90s", str(int(hour_ago)), time.strftime("%Y-%m-%dT%H:%M:%S+0000", time.gmtime(hour_ago))):
        found = cli_json(server, "callbacks", "ls", f"--run={doc['run_id']}", "--since", since)["callbacks"]
        assert [m["id"] for m in found] == [message["id"]], (since, found)
    assert cli_json(server, "callbacks", "ls", f"--run={doc['run_id']}", "--until", "1h")["callbacks"] == []
    recovered = cli_json(server, "callbacks", "recover", "--since", "1h", "--bucket", doc["bucket"])
    assert recovered["recovered"] == 0, recovered
    run = cli_json(server, "runs", "show", doc["run_id"], "-b", doc["bucket"])
    assert sorted(t["Name"] for t in run["Tasks"]) == ["Snapshot_1", "Transcode_1"]


def test_demo_explains_a_refused_loopback_callback(server_factory):
    strict = server_factory(extra_env={"REELFLOW_CALLBACK_ALLOW_CIDRS": ""})
    done = run_cli(strict, "demo", "--callback-wait", "3", check=False, timeout=300)
    assert done.returncode == 1, done.stdout
    assert "REELFLOW_CALLBACK_ALLOW_CIDRS=127.0.0.0/8" in done.stderr, done.stderr
    # With --output json a failed demo still prints one document saying what happened; the
    # error stays on stderr and the exit status is the same.
    done = run_cli(strict, "demo", "--callback-wait", "3", "--output", "json", check=False, timeout=300)
    assert done.returncode == 1, done.stdout
    assert "REELFLOW_CALLBACK_ALLOW_CIDRS=127.0.0.0/8" in done.stderr, done.stderr
    doc = json.loads(done.stdout)
    assert doc["succeeded"] is False and doc["workflow_paused"] is True and doc["callback"] is None, doc
    assert rf.RUN_ID.match(doc["run_id"]) and doc["workflow_id"] and doc["bucket"], doc
    assert "REELFLOW_CALLBACK_ALLOW_CIDRS" in doc["error"], doc


@pytest.mark.parametrize("shell", ["bash", "zsh", "fish"])
def test_completions(server, shell):
    done = subprocess.run([str(server.binary), "completions", shell], capture_output=True, text=True, timeout=30)
    assert done.returncode == 0 and len(done.stdout) > 1000, done.stderr
    assert "workflow" in done.stdout and "runs" in done.stdout


# --- defects found by a first user: each a regression test ---------------------------------------
def bucket_names(server) -> list[str]:
    return [b["name"] for b in cli_json(server, "ls")["buckets"]]


def test_rm_never_deletes_a_bucket_rb_does(server, tmp_path):
    bucket = rf.new_bucket_name("rb")
    run_cli(server, "mb", f"cos://{bucket}")
    for location in (f"cos://{bucket}", f"cos://{bucket}/"):
        done = run_cli(server, "rm", location, check=False)
        assert done.returncode == 2 and "rb" in done.stderr, done.stderr
    assert bucket in bucket_names(server)
    # `rm -r cos://b/` empties it (and leaves the bucket).
    f = random_file(tmp_path / "x.bin", 10)
    run_cli(server, "put", str(f), f"cos://{bucket}/k.bin")
    full = run_cli(server, "rb", f"cos://{bucket}", check=False)
    assert full.returncode == 1 and "rm -r" in full.stderr, full.stderr
    assert cli_json(server, "rm", "-r", f"cos://{bucket}/")["deleted"] == [f"cos://{bucket}/k.bin"]
    assert bucket in bucket_names(server)
    assert cli_json(server, "rb", f"cos://{bucket}") == {"bucket": bucket, "removed": True}
    assert bucket not in bucket_names(server)


def test_mb_of_an_object_location_or_no_name_is_a_usage_error(server):
    bucket = rf.new_bucket_name("mbkey")
    for arg in (f"cos://{bucket}/key", "cos://", "cos:///"):
        done = run_cli(server, "mb", arg, check=False)
        assert done.returncode == 2, (arg, done.stderr)
    assert bucket not in bucket_names(server)


def test_get_into_a_directory_that_does_not_exist(server, bucket, tmp_path):
    src = random_file(tmp_path / "one", 1000)
    run_cli(server, "put", str(src), f"cos://{bucket}/one")
    work = tmp_path / "work"
    work.mkdir()
    done = subprocess.run(_cmd(server, ("get", f"cos://{bucket}/one", "nodir/")), env=_env(server),
                          capture_output=True, text=True, timeout=60, cwd=work)  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert (work / "nodir" / "one").read_bytes() == src.read_bytes()
    # A missing parent without the trailing slash: an error before downloading anything.
    done = run_cli(server, "get", f"cos://{bucket}/one", str(work / "missing" / "sub" / "f"), check=False)
    assert done.returncode == 1 and "does not exist" in done.stderr, done.stderr
    # A failed download leaves no temporary file.
    done = run_cli(server, "get", f"cos://{bucket}/nokey", str(work / "x"), check=False)
    assert done.returncode == 1
    assert not list(work.rglob("*.reelflow-part")), list(work.rglob("*"))


def test_runs_watch_keeps_following_across_a_server_restart(server_factory, tmp_path, media):
    srv = server_factory()
    client = srv.client()
    bucket = rf.create_bucket(client)
    wf = create_workflow(srv, tmp_path, bucket, "restarted")
    run_cli(srv, "put", str(media.video), f"cos://{bucket}/input/a.mp4")
    run = run_of(srv, bucket, wf, "input/a.mp4")
    srv.stop()
    proc = subprocess.Popen(_cmd(srv, ("runs", "watch", run, "-b", bucket)), env=_env(srv),
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)  # fmt: skip
    try:
        time.sleep(2)
        assert proc.poll() is None, proc.communicate()
        srv.start()
        out, err = proc.communicate(timeout=120)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 0, (out, err)
    assert "retrying" in err and "run: Success" in out, (out, err)


def test_keys_a_url_cannot_carry_are_refused_and_control_characters_get_the_servers_answer(server, bucket, tmp_path):
    f = random_file(tmp_path / "x.bin", 10)
    for key in ("a/../b.bin", "./c.bin", "d/."):
        done = run_cli(server, "put", str(f), f"cos://{bucket}/{key}", check=False)
        assert done.returncode == 2 and "'..' path segment" in done.stderr, (key, done.stderr)
    for key in ("tab\there.bin", "new\nline.bin"):
        done = run_cli(server, "put", str(f), f"cos://{bucket}/{key}", check=False)
        assert done.returncode == 1, (key, done.stderr)
        assert "SignatureDoesNotMatch" not in done.stderr and "control character" in done.stderr, done.stderr
    # Keys with characters that need encoding round-trip.
    key = "sp ace/ünï +%20 a%b#?.bin"
    run_cli(server, "put", str(f), f"cos://{bucket}/{key}")
    assert [o["key"] for o in cli_json(server, "ls", "-r", f"cos://{bucket}/sp ace/")["objects"]] == [key]


def test_rm_of_a_missing_key_or_a_prefix_without_r_fails(server, bucket, tmp_path):
    f = random_file(tmp_path / "x.bin", 10)
    run_cli(server, "put", str(f), f"cos://{bucket}/dir/a.bin")
    missing = run_cli(server, "rm", f"cos://{bucket}/nokey", check=False)
    assert missing.returncode == 1 and "no such key" in missing.stderr, missing.stderr
    assert "deleted" not in missing.stdout
    for prefix in (f"cos://{bucket}/dir/", f"cos://{bucket}/dir"):
        done = run_cli(server, "rm", prefix, check=False)
        assert done.returncode == 1 and "rm -r" in done.stderr, done.stderr
    assert [o["key"] for o in cli_json(server, "ls", "-r", f"cos://{bucket}/")["objects"]] == ["dir/a.bin"]


def test_usage_mistakes_exit_2(server, bucket, tmp_path):
    cases = [
        ("workflow", "ls"),
        ("jobs", "submit", "-b", bucket),
        ("batch", "create", "-b", bucket, "--name", "x"),
        ("batch", "create", "-b", bucket, "--name", "x", "--workflow", "w" + "0" * 32),
        ("runs", "ls", "-b", bucket, "--since", "yesterday"),
        ("jobs", "ls", "-b", bucket, "--until", "soon"),
        ("callbacks", "ls", "--since", "yesterday"),
        ("callbacks", "recover", "--since", "2h ago"),
        ("login", "--ttl", "30"),
        ("login", "--ttl", "13h"),
        ("mb", "cos://"),
        ("rm", f"cos://{bucket}"),
    ]
    for args in cases:
        done = run_cli(server, *args, check=False)
        assert done.returncode == 2, (args, done.returncode, done.stderr)
    for command in (("runs", "ls", "-b", bucket), ("callbacks", "ls"), ("callbacks", "recover")):
        since = run_cli(server, *command, "--since", "yesterday", check=False)
        assert "RFC 3339" in since.stderr and "2h" in since.stderr, (command, since.stderr)
    ttl = run_cli(server, "login", "--ttl", "30", check=False)
    assert "60 s" in ttl.stderr and "12h" in ttl.stderr and "400" not in ttl.stderr, ttl.stderr
    env = dict(_env(server), REELFLOW_BUCKET="")
    empty = subprocess.run(_cmd(server, ("runs", "ls")), env=env, capture_output=True, text=True, timeout=30)
    assert empty.returncode == 2 and "--bucket" in empty.stderr, empty.stderr


def test_json_output_is_always_json(server, bucket, tmp_path):
    metrics = json.loads(run_cli(server, "callbacks", "metrics", "--json").stdout)
    assert isinstance(metrics["samples"], list) and "text" in metrics, metrics
    login = json.loads(run_cli(server, "login", "--json").stdout)
    assert login["console_url"].endswith(f"/_reelflow/console/#token={login['token']}"), login
    unknown = run_cli(server, "jobs", "show", "j" + "0" * 32, "-b", bucket, check=False)
    assert unknown.returncode == 1 and "does not exist" in unknown.stderr, unknown.stderr


def test_batch_cancel_of_an_ended_batch_says_so(server, bucket, media, tmp_path):
    wf = create_workflow(server, tmp_path, bucket, "ended", state="Paused")
    run_cli(server, "put", str(media.video), f"cos://{bucket}/input/1.mp4")
    created = cli_json(server, "batch", "create", "-b", bucket, "--name", "b", "--workflow", wf, "--object", "input/1.mp4")
    batch_id = created["JobsDetail"][0]["JobId"]

    def ended():
        detail = cli_json(server, "batch", "show", batch_id, "-b", bucket)["JobsDetail"][0]
        return detail["State"] in ("Success", "Failed")

    rf.eventually(ended, 120, 0.5, "the batch's end")
    done = run_cli(server, "batch", "cancel", batch_id, "-b", bucket, check=False)
    assert done.returncode == 1 and "already ended" in done.stderr, done.stderr


def test_a_closed_stdout_ends_the_command_quietly(server, bucket):
    proc = subprocess.Popen(_cmd(server, ("ls",)), env=_env(server), stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    proc.stdout.close()  # the reader is gone before the first line
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 0 and b"panicked" not in err and b"Broken pipe" not in err, err


def test_demo_pauses_its_workflow(server):
    doc = cli_json(server, "demo")
    assert doc["workflow_paused"] is True, doc
    [wf] = cli_json(server, "workflow", "show", doc["workflow_id"], "-b", doc["bucket"])["MediaWorkflowList"]
    assert wf["State"] == "Paused", wf


def test_small_cli_papercuts(server, bucket, tmp_path):
    # A server address without a scheme means http.
    bare = server.base_url.removeprefix("http://")
    done = subprocess.run([str(server.binary), "ls", "--server", bare], env=_env(server), capture_output=True, text=True, timeout=30)
    assert done.returncode == 0, done.stderr
    # `put /dev/stdin` reports the bytes it sent.
    piped = subprocess.run(_cmd(server, ("put", "/dev/stdin", f"cos://{bucket}/piped.bin", "--output", "json")),
                           env=_env(server), input=b"x" * 1234, capture_output=True, timeout=30)  # fmt: skip
    assert piped.returncode == 0 and json.loads(piped.stdout)["size"] == 1234, piped.stderr
    # Request files: errors name the file (and, for XML, where the parser stopped, once).
    bad_json = tmp_path / "list.json"
    bad_json.write_text("[1, 2]")
    done = run_cli(server, "workflow", "create", "-f", str(bad_json), "-b", bucket, check=False)
    assert done.returncode == 1 and str(bad_json) in done.stderr and "object" in done.stderr, done.stderr
    bad_xml = tmp_path / "bad.xml"
    bad_xml.write_text("<Request>\n  <MediaWorkflow><Name>x</Nme>\n</Request>\n")
    done = run_cli(server, "workflow", "create", "-f", str(bad_xml), "-b", bucket, check=False)
    assert done.returncode == 1 and f"{bad_xml}:2:" in done.stderr, done.stderr
    assert done.stderr.count("ill-formed") <= 1 and done.stderr.count("malformed") <= 1, done.stderr
    # `workflow show` lists the nodes in graph order; `workflow rm` says what it did.
    body = rf.workflow_body("ordered", {
        "Transcode_1": rf.transcode_node(OFFICIAL_360P, bucket, "out/a.mp4"),
    }, notify_url=None, state="Paused")  # fmt: skip
    topo = body["MediaWorkflow"]["Topology"]
    nodes = topo["Nodes"]
    topo["Nodes"] = {"Transcode_1": nodes["Transcode_1"], "Start": nodes["Start"]}
    path = write_json(tmp_path / "ordered.json", body)
    wf = cli_json(server, "workflow", "create", "-f", str(path), "-b", bucket)["MediaWorkflow"]["WorkflowId"]
    table = run_cli(server, "workflow", "show", wf, "-b", bucket).stdout
    assert table.index("Start") < table.index("Transcode_1"), table
    removed = run_cli(server, "workflow", "rm", wf, "-b", bucket).stdout
    assert f"deleted workflow {wf}" in removed, removed


def test_each_fused_task_logs_its_own_end(server_factory, tmp_path, media):
    """Sibling tasks run fused in one ffmpeg under the first task's span; each `task finished`
    JSON line must still carry its own job_id and node (as fields and as its span)."""
    srv = server_factory(extra_env={"REELFLOW_LOG_FORMAT": "json"})
    bucket = rf.create_bucket(srv.client())
    nodes = {
        "Transcode_1": rf.transcode_node(OFFICIAL_360P, bucket, "out/${RunId}/a.mp4"),
        "Snapshot_1": rf.snapshot_node("t000000000000000000000000000000c01", bucket, "out/${RunId}/s-${Number}.jpg"),
    }
    path = write_json(tmp_path / "fused.json", rf.workflow_body("fused", nodes, notify_url=None))
    wf = cli_json(srv, "workflow", "create", "-f", str(path), "-b", bucket)["MediaWorkflow"]["WorkflowId"]
    run_cli(srv, "put", str(media.video), f"cos://{bucket}/input/a.mp4")
    run = run_of(srv, bucket, wf, "input/a.mp4")
    assert run_cli(srv, "runs", "watch", run, "-b", bucket).returncode == 0
    tasks = {t["Name"]: t["JobId"] for t in cli_json(srv, "runs", "show", run, "-b", bucket)["Tasks"]}

    def ends():
        found = {}
        for line in srv.log_path.read_text(errors="replace").splitlines():
            if '"task finished"' in line:
                doc = json.loads(line)
                found[doc["job_id"]] = doc
        return found if set(tasks.values()) <= set(found) else None

    found = rf.eventually(ends, 10, 0.2, "a task finished line per task")
    for name, job_id in tasks.items():
        doc = found[job_id]
        assert doc["node"] == name and doc["span"]["job_id"] == job_id and doc["span"]["node"] == name, doc
        # Its own task span, once: not nested in (or repeated after) the group's span.
        assert doc["spans"] == [doc["span"]], doc


def test_times_are_taken_and_printed_one_way(server, bucket, media, tmp_path):
    """The server answers CI times with its zone's offset (+0800 here); tables print every time
    as RFC 3339 UTC with `Z`, `--since` takes that form back (and `+0000`, `+00:00`), and
    `--output json` keeps the server's text."""
    wf = create_workflow(server, tmp_path, bucket, "timed")
    run_cli(server, "put", str(media.video), f"cos://{bucket}/input/t.mp4")
    run = run_of(server, bucket, wf, "input/t.mp4")
    run_cli(server, "runs", "watch", run, "-b", bucket)
    [listed] = cli_json(server, "runs", "ls", "-b", bucket, "--workflow", wf)["runs"]
    assert listed["CreateTime"].endswith("+0800"), listed  # the server's data, unchanged
    table = run_cli(server, "runs", "ls", "-b", bucket, "--workflow", wf).stdout
    assert_table(table)
    assert_times_printed_one_way(table)
    [created] = TABLE_TIME.findall(table)
    shown = run_cli(server, "runs", "show", run, "-b", bucket).stdout
    assert_times_printed_one_way(shown)
    assert_times_printed_one_way(run_cli(server, "jobs", "ls", "-b", bucket, "--workflow", wf).stdout)
    plus = created.replace("Z", "+0000")
    for since in (created, plus, created.replace("Z", "+00:00"), "1h", "3600s", "1d"):
        runs = cli_json(server, "runs", "ls", "-b", bucket, "--workflow", wf, "--since", since)["runs"]
        assert [r["RunId"] for r in runs] == [run], (since, runs)
    assert cli_json(server, "runs", "ls", "-b", bucket, "--workflow", wf, "--until", "1h")["runs"] == []
    jobs = cli_json(server, "jobs", "ls", "-b", bucket, "--workflow", wf, "--since", plus)
    assert jobs["JobsDetail"], jobs


def test_server_messages_are_printed_without_xml_escapes(server, bucket):
    done = run_cli(server, "jobs", "submit", "-b", bucket, "--tag", "Tr'x", "--input", "a.mp4", check=False)
    assert done.returncode == 1 and '"Tr\'x"' in done.stderr, done.stderr
    assert "&quot;" not in done.stderr and "&apos;" not in done.stderr, done.stderr


def test_downloads_keep_file_names_beyond_ascii_byte_for_byte(server, client, bucket):
    """What the console's download link asks for: the answer's Content-Disposition carries the
    exact name as RFC 6266 `filename*` (a browser would percent-decode a plain `filename`)."""
    import requests
    from urllib.parse import unquote

    import transfer_support as ts

    name = "ünï cödé +%20 a%b.txt"
    client.put_object(Bucket=bucket, Key=f"dl/{name}", Body=b"x")
    url = ts.s3_client(server).generate_presigned_url("get_object", ExpiresIn=300, Params={
        "Bucket": bucket, "Key": f"dl/{name}", "ResponseContentDisposition": f'attachment; filename="{name}"'})  # fmt: skip
    got = requests.get(url, timeout=30)
    assert got.status_code == 200, got.text
    header = got.headers["content-disposition"].encode("latin-1").decode("utf-8")
    assert "filename*=UTF-8''" in header, header
    assert unquote(header.split("filename*=UTF-8''", 1)[1].split(";")[0], encoding="utf-8") == name, header
