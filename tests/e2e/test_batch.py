"""Batch (inventory, 存量触发) trigger jobs (issue #11, api-reference-2.md §4) through
cos-python-sdk-v5's four calls (`ci_create_inventory_trigger_jobs`, `ci_get_inventory_trigger_jobs`,
`ci_list_inventory_trigger_jobs`, `ci_delete_inventory_trigger_jobs`) against the real binary, with a
MediaInfo workflow (one ffprobe per object) on tiny generated media:

Prefix over 200 objects of mixed extensions (the workflow's ExtFilter honoured, the batch-end callback
received) · TimeInterval · Object · Manifest (manifest.json + CSV.gz in a bucket) · Type=Job · cancel
half-way · SIGKILL half-way then restart: every matching object ran exactly once · on PostgreSQL + S3,
the worker driving a batch SIGKILLed and another taking over · list filters and paging · UrlFile and
unknown workflows refused."""

from __future__ import annotations

import gzip
import json
import re
import uuid
import xml.etree.ElementTree as ET
from concurrent.futures import ThreadPoolExecutor
from urllib.parse import quote

import pytest
import requests

import reelflow_e2e as rf
from conftest import make_video
from qcloud_cos import CosServiceError

BATCH_ID = r"^b[0-9a-f]{32}$"
TERMINAL = {"Success", "Failed", "Cancel"}
# Small pages and a small in-flight window, so a batch of 40 objects takes many pages.
SLOW_BATCH = {"REELFLOW_BATCH_MAX_IN_FLIGHT": "4", "REELFLOW_BATCH_PAGE_SIZE": "4"}


@pytest.fixture(scope="module")
def tiny_video(tmp_path_factory) -> bytes:
    path = make_video(tmp_path_factory.mktemp("batch-media") / "tiny.mp4", seconds=0.2, size="64x64", rate=10)
    return path.read_bytes()


def upload_all(client, bucket: str, objects: dict[str, bytes]) -> None:
    with ThreadPoolExecutor(8) as pool:
        list(pool.map(lambda kv: rf.upload(client, bucket, kv[0], kv[1]), objects.items()))


def mediainfo_workflow(client, bucket: str, prefix: str = "in/", state: str = "Paused") -> str:
    """A MediaInfo workflow on `prefix` with the Video ExtFilter. Paused, so uploads start nothing:
    only batches run it."""
    body = rf.workflow_body(
        "batch-mediainfo",
        {"MediaInfo_1": {"Type": "MediaInfo"}},
        notify_url=None,
        prefix=prefix,
        state=state,
        ext_filter={"State": "On", "Video": "true"},
    )
    return rf.create_workflow(client, bucket, body)


def create_batch(client, bucket: str, body: dict) -> dict:
    resp = client.ci_create_inventory_trigger_jobs(Bucket=bucket, JobBody=body)
    details = rf.as_list(resp.get("JobsDetail"))
    assert len(details) == 1, resp
    detail = details[0]
    assert re.match(BATCH_ID, detail["JobId"]), detail
    assert detail["State"] == "Submitted" and detail["Name"] == body["Name"], detail
    assert detail.get("StartTime") and detail.get("EndTime") in (None, ""), detail
    return detail


def get_batch(client, bucket: str, batch_id: str) -> dict:
    resp = client.ci_get_inventory_trigger_jobs(Bucket=bucket, JobID=batch_id)
    details = rf.as_list(resp.get("JobsDetail"))
    assert len(details) == 1, resp
    return details[0]


def wait_batch(client, bucket: str, batch_id: str, timeout: float = 120) -> dict:
    def done():
        d = get_batch(client, bucket, batch_id)
        return d if d["State"] in TERMINAL else None

    return rf.eventually(done, timeout, 0.2, f"batch {batch_id} to end")


def batch_executions(client, bucket: str, workflow_id: str, batch_id: str) -> list[dict]:
    """Every instance the batch started (`GET /workflowexecution?jobId=b…`, all pages)."""
    runs: list[dict] = []
    token = ""
    for _ in range(100):
        resp = client.ci_list_workflowexecution(
            Bucket=bucket, WorkflowId=workflow_id, Size=100, NextToken=token, BatchJobId=batch_id
        )
        runs += rf.as_list(resp.get("WorkflowExecutionList"))
        token = resp.get("NextToken") or ""
        if not token:
            return runs
    raise AssertionError("paging did not end")


def workflow_batch(name: str, workflow_id: str, input_: dict, **operation) -> dict:
    return {"Name": name, "Type": "Workflow", "Input": input_, "Operation": {"WorkflowIds": workflow_id, **operation}}


def test_prefix_batch_over_200_objects_honours_the_ext_filter_and_calls_back(client, bucket, tiny_video, receiver):
    objects = {}
    for i in range(200):
        ext = ["mp4", "mov", "txt", "jpg", "mp3"][i % 5]
        objects[f"in/{i:03d}.{ext}"] = tiny_video if ext in ("mp4", "mov") else b"not media %d" % i
    objects["other/x.mp4"] = tiny_video  # outside the batch prefix
    upload_all(client, bucket, objects)
    wf = mediainfo_workflow(client, bucket)
    url = receiver.url("batch")
    body = workflow_batch("prefix-200", wf, {"Prefix": "in/"})
    body["NotifyConfig"] = {"Url": url, "Type": "Url", "ResultFormat": "XML", "State": "On"}
    batch_id = create_batch(client, bucket, body)["JobId"]

    final = wait_batch(client, bucket, batch_id)
    want = sorted(k for k in objects if k.startswith("in/") and k.rsplit(".", 1)[1] in ("mp4", "mov"))
    assert final["State"] == "Success", final
    stats = final["Statistics"]
    assert stats == {"Total": "80", "Submitted": "80", "Succeeded": "80", "Failed": "0", "Running": "0"}, stats
    assert final["Progress"] == "100" and final["EndTime"] != "-", final
    runs = batch_executions(client, bucket, wf, batch_id)
    assert sorted(r["Object"] for r in runs) == want  # each matching object exactly once
    assert {r["State"] for r in runs} == {"Success"}

    delivery = receiver.wait_for(lambda d: d.path == receiver.path_of(url), what="the batch-end callback")
    doc = ET.fromstring(delivery.body)
    assert doc.findtext("EventName") == "InventoryTriggerJobFinish"
    assert doc.findtext("JobsDetail/JobId") == batch_id
    assert doc.findtext("JobsDetail/State") == "Success"
    assert doc.findtext("JobsDetail/Statistics/Succeeded") == "80"
    assert delivery.headers.get("webhook-id") == f"msg_{batch_id}_batchfinish"


def test_time_interval_filters_on_last_modified(client, bucket, tiny_video):
    upload_all(client, bucket, {"in/a.mp4": tiny_video})
    wf = mediainfo_workflow(client, bucket)
    before = workflow_batch("old-only", wf, {"Prefix": "in/"}, TimeInterval={"End": "2020-01-01T00:00:00+0800"})
    final = wait_batch(client, bucket, create_batch(client, bucket, before)["JobId"])
    assert final["State"] == "Success" and final["Statistics"]["Total"] == "0", final
    recent = workflow_batch("recent", wf, {"Prefix": "/"}, TimeInterval={"Start": "2020-01-01T00:00:00+0800"})
    final = wait_batch(client, bucket, create_batch(client, bucket, recent)["JobId"])
    assert final["Statistics"]["Submitted"] == "1", final


def test_object_batch_runs_one_instance_and_shows_it(client, bucket, tiny_video):
    upload_all(client, bucket, {"in/one.mp4": tiny_video, "in/two.mp4": tiny_video})
    wf = mediainfo_workflow(client, bucket)
    batch_id = create_batch(client, bucket, workflow_batch("one", wf, {"Object": "in/two.mp4"}))["JobId"]
    final = wait_batch(client, bucket, batch_id)
    assert final["State"] == "Success", final
    runs = batch_executions(client, bucket, wf, batch_id)
    assert [r["Object"] for r in runs] == ["in/two.mp4"]
    result = final["Result"]
    assert result["Object"] == "in/two.mp4" and result["InstanceId"] == runs[0]["RunId"], final


def test_manifest_batch_reads_a_cos_inventory(client, bucket, tiny_video):
    keys = ["in/m 1.mp4", "in/m,2.mp4", "in/m3.mov"]
    upload_all(client, bucket, {k: tiny_video for k in keys})
    wf = mediainfo_workflow(client, bucket)
    rows = [f'"{bucket}","{quote(k, safe="")}","1234","2026-11-30T00:00:00.000Z"' for k in keys]
    rows.append(f'"{bucket}","{quote("in/missing.mp4")}","1","x"')  # listed but gone: skipped
    rows.append(f'"another-bucket","{quote("in/m3.mov")}","1","x"')  # another bucket: skipped
    data = gzip.compress(("\n".join(rows[:2]) + "\n").encode())
    data2 = gzip.compress(("\n".join(rows[2:]) + "\n").encode())
    base = "cos_bucket_inventory/1250000000/src/inv1/20261130"
    manifest = {
        "sourceBucket": bucket,
        "fileFormat": "CSV",
        "fileSchema": "Bucket, Key, Size, LastModifiedDate",
        "files": [{"key": f"{base}/data/a.csv.gz"}, {"key": f"{base}/data/b.csv.gz"}],
    }
    upload_all(
        client,
        bucket,
        {
            f"{base}/data/a.csv.gz": data,
            f"{base}/data/b.csv.gz": data2,
            f"{base}/manifest.json": json.dumps(manifest).encode(),
        },
    )
    url = f"https://{bucket}.cos.{rf.REGION}.myqcloud.com/{base}/manifest.json"
    batch_id = create_batch(client, bucket, workflow_batch("manifest", wf, {"Manifest": url}))["JobId"]
    final = wait_batch(client, bucket, batch_id)
    assert final["State"] == "Success", final
    runs = batch_executions(client, bucket, wf, batch_id)
    assert sorted(r["Object"] for r in runs) == sorted(keys)


def test_job_batch_submits_one_job_per_object(client, bucket, tiny_video):
    upload_all(client, bucket, {f"j/{i}.mp4": tiny_video for i in range(3)})
    body = {"Name": "jobs", "Type": "Job", "Input": {"Prefix": "j/"}, "Operation": {"Tag": "MediaInfo"}}
    batch_id = create_batch(client, bucket, body)["JobId"]
    final = wait_batch(client, bucket, batch_id)
    assert final["State"] == "Success" and final["Type"] == "Job", final
    results = rf.as_list(final["Result"])
    assert sorted(r["Object"] for r in results) == [f"j/{i}.mp4" for i in range(3)]
    for r in results:
        job = client.ci_get_media_jobs(Bucket=bucket, JobIDs=r["JobId"])["JobsDetail"][0]
        assert job["State"] == "Success" and job["Input"]["Object"] == r["Object"], job


def test_cancel_half_way_stops_submitting_and_cancels_what_has_not_started(server_factory, tiny_video):
    srv = server_factory(extra_env=dict(SLOW_BATCH))
    client = srv.client()
    bucket = rf.create_bucket(client)
    upload_all(client, bucket, {f"in/{i:02d}.mp4": tiny_video for i in range(40)})
    wf = mediainfo_workflow(client, bucket)
    batch_id = create_batch(client, bucket, workflow_batch("cancel-me", wf, {"Prefix": "in/"}))["JobId"]
    rf.eventually(lambda: int(get_batch(client, bucket, batch_id)["Statistics"]["Submitted"]) >= 8, 60, 0.05)

    resp = client.ci_delete_inventory_trigger_jobs(Bucket=bucket, JobId=batch_id)
    assert resp.status_code == 200 and resp.headers.get("Content-Length") == "0" and resp.content == b""
    after = get_batch(client, bucket, batch_id)
    assert after["State"] == "Cancel" and after["EndTime"] != "-", after
    submitted = int(after["Statistics"]["Submitted"])
    assert 8 <= submitted < 40, after
    # Nothing more is submitted after the cancel; what was submitted ends (cancelled or run).
    runs = rf.eventually(
        lambda: (r := batch_executions(client, bucket, wf, batch_id)) and all(x["State"] in TERMINAL for x in r) and r,
        60,
        0.2,
        "the batch's instances to end",
    )
    assert len(runs) == submitted
    assert len({r["Object"] for r in runs}) == submitted
    # A second cancel of the ended batch changes nothing.
    client.ci_delete_inventory_trigger_jobs(Bucket=bucket, JobId=batch_id)
    assert get_batch(client, bucket, batch_id)["State"] == "Cancel"


def test_sigkill_half_way_resumes_without_running_any_object_twice(server_factory, tiny_video):
    first = server_factory(extra_env=dict(SLOW_BATCH))
    client = first.client()
    bucket = rf.create_bucket(client)
    keys = [f"in/{i:02d}.mp4" for i in range(40)]
    upload_all(client, bucket, {k: tiny_video for k in keys})
    wf = mediainfo_workflow(client, bucket)
    batch_id = create_batch(client, bucket, workflow_batch("crash", wf, {"Prefix": "in/"}))["JobId"]
    rf.eventually(lambda: int(get_batch(client, bucket, batch_id)["Statistics"]["Submitted"]) >= 8, 60, 0.05)
    first.kill()

    second = server_factory(
        data_dir=first.data_dir,
        secret_id=first.secret_id,
        secret_key=first.secret_key,
        port=first.port,
        extra_env=dict(SLOW_BATCH),
    )
    client = second.client()
    final = wait_batch(client, bucket, batch_id, timeout=180)
    assert final["State"] == "Success", final
    runs = batch_executions(client, bucket, wf, batch_id)
    assert sorted(r["Object"] for r in runs) == keys  # every object exactly once
    assert {r["State"] for r in runs} == {"Success"}
    assert final["Statistics"]["Submitted"] == "40", final


def test_the_go_sdks_bare_put_cancels(server, client, bucket, tiny_video):
    """The Go SDK cancels with `PUT /inventorytriggerjob/<id>` and no `?cancel` (§4.1)."""
    upload_all(client, bucket, {"in/a.mp4": tiny_video})
    queue = rf.as_list(client.ci_get_media_queue(Bucket=bucket).get("QueueList"))[0]
    # A paused queue keeps the batch from ending before the cancel arrives.
    client.ci_update_media_queue(
        Bucket=bucket, QueueId=queue["QueueId"], Request={"Name": queue["Name"], "QueueID": queue["QueueId"], "State": "Paused"}
    )
    wf = mediainfo_workflow(client, bucket)
    batch_id = create_batch(client, bucket, workflow_batch("go", wf, {"Prefix": "in/"}))["JobId"]
    rf.eventually(lambda: get_batch(client, bucket, batch_id)["State"] == "Pause", 30, 0.05, "Pause")
    path = f"/inventorytriggerjob/{batch_id}"
    resp = requests.put(server.base_url + path, headers=rf.signed_headers(client, "PUT", bucket, path), timeout=10)
    assert resp.status_code == 200 and resp.headers.get("Content-Length") == "0" and resp.content == b"", resp.text
    assert get_batch(client, bucket, batch_id)["State"] == "Cancel"
    path = "/inventorytriggerjob/b" + "0" * 32
    resp = requests.put(server.base_url + path, headers=rf.signed_headers(client, "PUT", bucket, path), timeout=10)
    rf.assert_full_error(resp, 404)


def test_list_filters_and_paging(client, bucket, tiny_video):
    upload_all(client, bucket, {"in/a.mp4": tiny_video})
    wf = mediainfo_workflow(client, bucket)
    ids = [create_batch(client, bucket, workflow_batch(f"list-{i}", wf, {"Prefix": "in/"}))["JobId"] for i in range(3)]
    for i in ids:
        wait_batch(client, bucket, i)
    listed = rf.as_list(client.ci_list_inventory_trigger_jobs(Bucket=bucket, WorkflowId=wf).get("JobsDetail"))
    assert [d["JobId"] for d in listed] == ids[::-1]  # newest first
    pages, token = [], ""
    for _ in range(5):
        resp = client.ci_list_inventory_trigger_jobs(Bucket=bucket, Size=2, NextToken=token, OrderByTime="Asc")
        pages.append([d["JobId"] for d in rf.as_list(resp.get("JobsDetail"))])
        token = resp.get("NextToken") or ""
        if not token:
            break
    assert pages == [ids[:2], ids[2:]]
    assert not rf.as_list(client.ci_list_inventory_trigger_jobs(Bucket=bucket, Type="Job").get("JobsDetail"))
    assert not rf.as_list(client.ci_list_inventory_trigger_jobs(Bucket=bucket, States="Running").get("JobsDetail"))
    one = client.ci_list_inventory_trigger_jobs(Bucket=bucket, JobId=ids[1], Name="list-1")
    assert [d["JobId"] for d in rf.as_list(one.get("JobsDetail"))] == [ids[1]]
    unknown = "b" + "0" * 32
    got = client.ci_get_inventory_trigger_jobs(Bucket=bucket, JobID=unknown)
    assert got.get("NonExistJobIds") == unknown and not got.get("JobsDetail"), got


def test_bad_batches_are_refused_by_name(client, bucket):
    wf = mediainfo_workflow(client, bucket)
    cases = [
        (workflow_batch("u", wf, {"UrlFile": "https://example.com/list.txt"}), 400, "Request.Input.UrlFile"),
        (workflow_batch("w", "w" + "1" * 32, {"Prefix": "in/"}), 404, "w" + "1" * 32),
        (workflow_batch("m", wf, {"Manifest": "inv/manifest.json"}), 404, "inv/manifest.json"),
        ({"Name": "j", "Type": "Job", "Input": {"Prefix": "in/"}, "Operation": {"Tag": "Nope"}}, 400, "Nope"),
    ]
    for body, status, named in cases:
        with pytest.raises(CosServiceError) as err:
            client.ci_create_inventory_trigger_jobs(Bucket=bucket, JobBody=body)
        assert err.value.get_status_code() == status, (body, err.value.get_error_msg())
        assert named in err.value.get_error_msg(), (body, err.value.get_error_msg())
    assert not rf.as_list(client.ci_list_inventory_trigger_jobs(Bucket=bucket).get("JobsDetail"))


def test_a_cluster_takes_over_a_batch_whose_driver_was_killed(server_factory, shared_substrates, tiny_video):
    """PostgreSQL + S3 (moto): an api process and two workers; the worker driving the batch is
    SIGKILLed half-way, the other takes the batch over when its lease expires (30 s) and every
    object still runs exactly once."""
    creds = {"secret_id": "AKID" + uuid.uuid4().hex, "secret_key": uuid.uuid4().hex}

    def start(role: str):
        env = dict(shared_substrates, REELFLOW_ROLE=role, REELFLOW_WORKERS="1", **SLOW_BATCH)
        return server_factory(extra_env=env, **creds)

    api = start("api")
    workers = [start("worker"), start("worker")]
    client = api.client()
    bucket = rf.create_bucket(client, "bt")
    keys = [f"in/{i:02d}.mp4" for i in range(30)]
    upload_all(client, bucket, {k: tiny_video for k in keys})
    wf = mediainfo_workflow(client, bucket)
    batch_id = create_batch(client, bucket, workflow_batch("cluster", wf, {"Prefix": "in/"}))["JobId"]
    rf.eventually(lambda: int(get_batch(client, bucket, batch_id)["Statistics"]["Submitted"]) >= 8, 60, 0.05)
    driver = next(w for w in workers if f"batch{{id={batch_id}}}" in w.log_path.read_text(errors="replace"))
    driver.kill()
    final = wait_batch(client, bucket, batch_id, timeout=150)
    assert final["State"] == "Success", final
    runs = batch_executions(client, bucket, wf, batch_id)
    assert sorted(r["Object"] for r in runs) == keys
    survivor = next(w for w in workers if w is not driver)
    assert f"batch{{id={batch_id}}}" in survivor.log_path.read_text(errors="replace"), "the survivor took over"
