"""The seed example end to end: two Transcode nodes after Start, an upload with a custom header,
the WorkflowFinish callback exactly as the seed document shows it, the transcoded outputs, and
the execution APIs agreeing with the callback. Plus the JSON form, delivery retries and the
output-name variables."""

from __future__ import annotations

import json
import re
import time
import xml.etree.ElementTree as ET
from dataclasses import dataclass
from pathlib import Path

import pytest

import reelflow_e2e as rf
from reelflow_e2e import text_of

NODE_A = "Transcode_1600413767353"
NODE_B = "Transcode_1600413767444"
INPUT_KEY = "input/0000.mp4"


@dataclass
class Template:
    id: str
    name: str
    width: int
    height: int


@dataclass
class SeedRun:
    bucket: str
    workflow_id: str
    url: str
    templates: dict[str, Template]  # node name -> template
    delivery: object
    execution: ET.Element
    workdir: Path

    @property
    def run_id(self) -> str:
        return text_of(self.execution, "RunId")

    def tasks(self) -> list[ET.Element]:
        return self.execution.findall("Tasks")


def _two_node_workflow(client, bucket: str, url: str, result_format: str = "XML") -> tuple[str, dict[str, Template]]:
    templates = {
        NODE_A: Template("", "example_320x180", 320, 180),
        NODE_B: Template("", "example_256x144", 256, 144),
    }
    for t in templates.values():
        t.id = rf.create_transcode_template(client, bucket, t.name, t.width, t.height)
    body = rf.workflow_body(
        "example",
        {
            NODE_A: rf.transcode_node(templates[NODE_A].id, bucket, "out/${RunId}/${InputName}_a.${Ext}"),
            NODE_B: rf.transcode_node(templates[NODE_B].id, bucket, "out/${RunId}/${InputName}_b.${Ext}"),
        },
        notify_url=url,
        result_format=result_format,
    )
    assert body["MediaWorkflow"]["Topology"]["Dependencies"] == {
        "Start": f"{NODE_A},{NODE_B}",
        NODE_A: "End",
        NODE_B: "End",
    }
    return rf.create_workflow(client, bucket, body), templates


@pytest.fixture(scope="module")
def seed(client, receiver, media, tmp_path_factory) -> SeedRun:
    bucket = rf.create_bucket(client, "seed")
    url = receiver.url("seed")
    workflow_id, templates = _two_node_workflow(client, bucket, url)
    rf.upload(client, bucket, INPUT_KEY, media.video_bytes(), Metadata={"x-cos-meta-id": "testid"})
    delivery = receiver.wait_for(
        lambda d: d.path == receiver.path_of(url), timeout=rf.CALLBACK_TIMEOUT, what="the seed WorkflowFinish callback"
    )
    execution = rf.callback_execution(delivery)
    return SeedRun(bucket, workflow_id, url, templates, delivery, execution, tmp_path_factory.mktemp("seed"))


# --- the callback -----------------------------------------------------------------------------
def test_callback_is_an_xml_post_with_webhook_headers(seed, server):
    d = seed.delivery
    assert d.method == "POST"
    assert rf.media_type(d.header("content-type")) == "application/xml", d.header("content-type")
    assert d.header("webhook-id"), f"no webhook-id header: {d.headers}"
    ts = d.header("webhook-timestamp")
    assert ts and ts.isdigit(), f"webhook-timestamp {ts!r} is not unix seconds"
    assert abs(int(ts) - time.time()) < 600, f"webhook-timestamp {ts} is far from now"
    assert rf.webhook_signature_ok(d, server.callback_secret), (
        f"webhook-signature {d.header('webhook-signature')!r} does not verify with REELFLOW_CALLBACK_SECRET"
    )
    assert (d.header("user-agent") or "").startswith("reelflow/"), d.header("user-agent")


def test_callback_element_sequence_matches_seed(seed):
    ex = seed.execution
    assert rf.child_names(ex) == rf.EXECUTION_CHILDREN + ["Tasks"], rf.child_names(ex)

    cos_headers = ex.findall("CosHeaders")
    assert len(cos_headers) == 1
    assert rf.child_names(cos_headers[0]) == ["Key", "Value"]
    assert text_of(cos_headers[0], "Key") == "x-cos-meta-id"
    assert text_of(cos_headers[0], "Value") == "testid"

    for task in seed.tasks():
        rf.assert_task_shape(task)


def test_callback_values(seed):
    ex = seed.execution
    assert rf.RUN_ID.match(seed.run_id), seed.run_id
    assert text_of(ex, "BucketId") == seed.bucket
    assert text_of(ex, "Object") == INPUT_KEY
    assert text_of(ex, "WorkflowId") == seed.workflow_id
    assert text_of(ex, "WorkflowName") == "example"
    assert rf.CALLBACK_TIME.match(text_of(ex, "CreateTime")), text_of(ex, "CreateTime")
    assert text_of(ex, "State") == "Success"

    tasks = seed.tasks()
    assert sorted(text_of(t, "Name") for t in tasks) == sorted([NODE_A, NODE_B])
    job_ids = [text_of(t, "JobId") for t in tasks]
    assert len(set(job_ids)) == 2, f"JobIds not distinct: {job_ids}"
    created = rf.parse_callback_time(text_of(ex, "CreateTime"))
    for task in tasks:
        tpl = seed.templates[text_of(task, "Name")]
        assert text_of(task, "Type") == "Transcode"
        assert text_of(task, "State") == "Success"
        assert text_of(task, "TemplateId") == tpl.id
        assert text_of(task, "TemplateName") == tpl.name
        assert rf.parse_callback_time(text_of(task, "CreateTime")) >= created


# --- the outputs ------------------------------------------------------------------------------
@pytest.mark.parametrize("node, suffix", [(NODE_A, "a"), (NODE_B, "b")])
def test_outputs_are_transcoded_per_template(seed, client, ffprobe, node, suffix):
    prefix = f"out/{seed.run_id}/"
    keys = rf.list_keys(client, seed.bucket, prefix)
    assert keys == [f"{prefix}0000_a.mp4", f"{prefix}0000_b.mp4"], keys

    path = rf.download(client, seed.bucket, f"{prefix}0000_{suffix}.mp4", seed.workdir / f"{suffix}.mp4")
    probe = ffprobe(path)
    assert "mp4" in probe["format"]["format_name"], probe["format"]["format_name"]
    video = rf.streams(probe, "video")
    audio = rf.streams(probe, "audio")
    assert len(video) == 1 and len(audio) == 1, probe["streams"]
    tpl = seed.templates[node]
    assert video[0]["codec_name"] == "h264"
    assert (video[0]["width"], video[0]["height"]) == (tpl.width, tpl.height)
    assert abs(rf.frame_rate(video[0]) - 15.0) < 0.5, video[0].get("avg_frame_rate")
    assert audio[0]["codec_name"] == "aac"
    assert audio[0]["sample_rate"] == "44100"
    assert audio[0]["channels"] == 2
    assert abs(float(probe["format"]["duration"]) - 2.0) < 0.3, probe["format"]["duration"]


# --- the execution APIs -----------------------------------------------------------------------
def test_get_workflowexecution_agrees_with_callback(seed, client):
    ex = rf.get_execution(client, seed.bucket, seed.run_id)
    assert ex["RunId"] == seed.run_id
    assert ex["WorkflowId"] == seed.workflow_id
    assert ex["WorkflowName"] == "example"
    assert ex["State"] == "Success"
    assert ex["Object"] == INPUT_KEY
    assert rf.API_TIME.match(ex["CreateTime"]), ex["CreateTime"]
    assert rf.parse_api_time(ex["CreateTime"]) == rf.parse_callback_time(text_of(seed.execution, "CreateTime"))
    assert ex.get("Topology"), "execution has no Topology snapshot"

    callback_tasks = {text_of(t, "Name"): t for t in seed.tasks()}
    tasks = rf.as_list(ex.get("Tasks"))
    assert sorted(t["Name"] for t in tasks) == sorted([NODE_A, NODE_B])
    for task in tasks:
        cb = callback_tasks[task["Name"]]
        assert task["Type"] == "Transcode"
        assert task["State"] == "Success"
        assert task["Code"] == "Success"
        assert task["JobId"] == text_of(cb, "JobId")
        assert task["TemplateId"] == text_of(cb, "TemplateId")
        assert task["TemplateName"] == text_of(cb, "TemplateName")
        for name in ("CreateTime", "StartTime", "EndTime"):
            assert rf.API_TIME.match(task.get(name) or ""), f"task {name} {task.get(name)!r}"
        start, end = rf.parse_api_time(task["StartTime"]), rf.parse_api_time(task["EndTime"])
        assert rf.parse_api_time(task["CreateTime"]) <= start <= end
        assert end == rf.parse_callback_time(text_of(cb, "EndTime"))


def test_list_workflowexecution_agrees_with_callback(seed, client):
    resp = client.ci_list_workflowexecution(Bucket=seed.bucket, WorkflowId=seed.workflow_id)
    listed = resp.get("WorkflowExecutionList")
    assert isinstance(listed, dict), f"one execution should come back as one element: {resp}"
    assert listed["RunId"] == seed.run_id
    assert listed["WorkflowId"] == seed.workflow_id
    assert listed["State"] == "Success"
    assert listed["Object"] == INPUT_KEY
    assert rf.API_TIME.match(listed["CreateTime"]), listed["CreateTime"]


def test_exactly_one_callback_per_instance(seed, receiver):
    time.sleep(1.5)  # longer than the first retry step: a duplicate would have arrived
    assert len(receiver.deliveries(seed.url)) == 1


# --- JSON ResultFormat --------------------------------------------------------------------------
@pytest.fixture(scope="module")
def json_run(client, receiver, media):
    bucket = rf.create_bucket(client, "json")
    url = receiver.url("json")
    workflow_id, templates = _two_node_workflow(client, bucket, url, result_format="JSON")
    rf.upload(client, bucket, INPUT_KEY, media.video_bytes(), Metadata={"x-cos-meta-id": "testid"})
    rf.upload(client, bucket, "input/nometa.mp4", media.video_bytes())
    path = receiver.path_of(url)
    with_meta = receiver.wait_for(
        lambda d: d.path == path and rf.callback_object(d) == INPUT_KEY, what="the JSON callback for input/0000.mp4"
    )
    without_meta = receiver.wait_for(
        lambda d: d.path == path and rf.callback_object(d) == "input/nometa.mp4",
        what="the JSON callback for input/nometa.mp4",
    )
    return bucket, workflow_id, templates, with_meta, without_meta


def _all_scalars_are_strings(value, where="$"):
    if isinstance(value, dict):
        for k, v in value.items():
            _all_scalars_are_strings(v, f"{where}.{k}")
    elif isinstance(value, list):
        for i, v in enumerate(value):
            _all_scalars_are_strings(v, f"{where}[{i}]")
    else:
        assert isinstance(value, str), f"{where} is {type(value).__name__} {value!r}, want a string"
        assert value != "", f"{where} is an empty string; empty elements must be omitted"


def test_json_callback_document(json_run, server):
    bucket, workflow_id, templates, d, _ = json_run
    assert d.method == "POST"
    assert rf.media_type(d.header("content-type")) == "application/json", d.header("content-type")
    assert d.header("webhook-id")
    assert rf.webhook_signature_ok(d, server.callback_secret)
    doc = json.loads(d.body)
    _all_scalars_are_strings(doc)
    # Tencent's JSON callback example (ci-api-reference.md 7.3) has no "Response" root:
    # the XML root's children are the top-level keys.
    assert list(doc) == ["WorkflowExecution"], list(doc)
    ex = doc["WorkflowExecution"]
    assert set(ex) == set(rf.EXECUTION_CHILDREN), sorted(ex)
    assert rf.RUN_ID.match(ex["RunId"])
    assert ex["BucketId"] == bucket
    assert ex["Object"] == INPUT_KEY
    assert ex["CosHeaders"] == [{"Key": "x-cos-meta-id", "Value": "testid"}]
    assert ex["WorkflowId"] == workflow_id
    assert ex["WorkflowName"] == "example"
    assert rf.CALLBACK_TIME.match(ex["CreateTime"])
    assert ex["State"] == "Success"
    assert isinstance(ex["Tasks"], list) and len(ex["Tasks"]) == 2, ex["Tasks"]
    for task in ex["Tasks"]:
        assert set(task) == set(rf.TASK_CHILDREN), sorted(task)
        tpl = templates[task["Name"]]
        assert task["Type"] == "Transcode"
        assert task["State"] == "Success"
        assert rf.JOB_ID.match(task["JobId"])
        assert rf.CALLBACK_TIME.match(task["CreateTime"]) and rf.CALLBACK_TIME.match(task["EndTime"])
        assert task["TemplateId"] == tpl.id
        assert task["TemplateName"] == tpl.name


def test_json_callback_omits_cos_headers_when_none(json_run):
    *_, d = json_run
    ex = json.loads(d.body)["WorkflowExecution"]
    _all_scalars_are_strings(ex)
    assert "CosHeaders" not in ex, ex.get("CosHeaders")
    assert ex["Object"] == "input/nometa.mp4"
    assert ex["State"] == "Success"
    assert isinstance(ex["Tasks"], list) and len(ex["Tasks"]) == 2


# --- delivery retries -------------------------------------------------------------------------
def test_failed_delivery_is_retried_with_the_same_webhook_id(server, client, receiver, media, bucket):
    tid = rf.create_transcode_template(client, bucket, "retry", 256, 144)
    url = receiver.url("retry")
    receiver.respond(url, [500])  # first attempt fails, the retry gets 200
    rf.create_workflow(
        client,
        bucket,
        rf.workflow_body("retry", {"Transcode_1": rf.transcode_node(tid, bucket, "out/${RunId}.${Ext}")}, notify_url=url),
    )
    rf.upload(client, bucket, "input/retry.mp4", media.video_bytes())
    first, second = receiver.wait_count(url, 2, timeout=rf.CALLBACK_TIMEOUT)[:2]
    assert (first.answered, second.answered) == (500, 200)
    assert first.body == second.body, "a retry must resend the same document"
    assert first.header("webhook-id") and first.header("webhook-id") == second.header("webhook-id")
    assert rf.webhook_signature_ok(first, server.callback_secret)
    assert rf.webhook_signature_ok(second, server.callback_secret)
    # REELFLOW_CALLBACK_RETRY_SCHEDULE=1s,2s,5s: the retry waits about a second.
    assert second.received_at - first.received_at >= 0.8, second.received_at - first.received_at
    time.sleep(3.0)  # past the next step of the schedule: no delivery after a success
    assert len(receiver.deliveries(url)) == 2


# --- output-name variables and a Snapshot node ------------------------------------------------
def test_output_name_variables_and_snapshot_node(client, receiver, media, bucket, ffprobe, tmp_path):
    trans = rf.create_transcode_template(client, bucket, "names", 320, 180)
    snap = rf.create_snapshot_template(client, bucket, "snap", count=2, width=160)
    url = receiver.url("names")
    nodes = {
        "Transcode_names": rf.transcode_node(trans, bucket, "names/${RunId}/${InputNameAndExt}-${inputname}.${EXT}"),
        "Transcode_path": rf.transcode_node(trans, bucket, "paths/${runid}/${InputPath}/x.${ext}"),
        "Snapshot_1": rf.snapshot_node(snap, bucket, "snap/${RunId}/${InputName}_${Number}.jpg"),
    }
    wid = rf.create_workflow(client, bucket, rf.workflow_body("names", nodes, notify_url=url))
    key = "input/clips/holiday.mp4"
    rf.upload(client, bucket, key, media.video_bytes())

    d = receiver.wait_for(lambda d: d.path == receiver.path_of(url), what="the names callback")
    ex = rf.callback_execution(d)
    # no x-cos-meta-* on this upload: no CosHeaders element at all
    assert rf.child_names(ex) == rf.expected_children(0, 3), rf.child_names(ex)
    assert text_of(ex, "State") == "Success", ET.tostring(ex, encoding="unicode")
    assert text_of(ex, "WorkflowId") == wid
    types = {text_of(t, "Name"): text_of(t, "Type") for t in ex.findall("Tasks")}
    assert types == {"Transcode_names": "Transcode", "Transcode_path": "Transcode", "Snapshot_1": "Snapshot"}
    run_id = text_of(ex, "RunId")

    assert rf.list_keys(client, bucket, f"names/{run_id}/") == [f"names/{run_id}/holiday.mp4-holiday.mp4"]

    # ${InputPath} is the directory of the key; accept it with or without a trailing "/".
    path_keys = rf.list_keys(client, bucket, f"paths/{run_id}/")
    assert len(path_keys) == 1 and re.fullmatch(rf"paths/{run_id}/input/clips/+x\.mp4", path_keys[0]), path_keys

    snaps = rf.list_keys(client, bucket, f"snap/{run_id}/")
    assert snaps == [f"snap/{run_id}/holiday_0.jpg", f"snap/{run_id}/holiday_1.jpg"], snaps
    for i, k in enumerate(snaps):
        probe = ffprobe(rf.download(client, bucket, k, tmp_path / f"{i}.jpg"))
        (video,) = rf.streams(probe, "video")
        assert video["codec_name"] == "mjpeg"
        assert (video["width"], video["height"]) == (160, 120), "Width only: height keeps the 4:3 aspect"
