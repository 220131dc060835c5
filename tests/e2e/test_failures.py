"""Inputs that cannot be processed: the instance and its tasks end Failed, the callback says so,
and the execution API explains why."""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET

import pytest

import reelflow_e2e as rf
from reelflow_e2e import text_of

NODE = "Transcode_1600413767353"
# Loose on purpose: any wording that says the input is not usable media.
REASON = re.compile(
    r"invalid|corrupt|no video|unsupported|unrecognized|unknown format|not a (valid )?(media|video)|"
    r"could not (open|read|decode|find)|decod|probe|moov atom|end of file|empty",
    re.IGNORECASE,
)


@pytest.fixture(scope="module")
def failing(client, receiver):
    bucket = rf.create_bucket(client, "fail")
    tid = rf.create_transcode_template(client, bucket, "fail_320x180", 320, 180)
    url = receiver.url("fail")
    wid = rf.create_workflow(
        client,
        bucket,
        rf.workflow_body(
            "failures", {NODE: rf.transcode_node(tid, bucket, "out/${RunId}/${InputName}.${Ext}")}, notify_url=url
        ),
    )
    return bucket, wid, tid, url


@pytest.mark.parametrize(
    "key, body",
    [
        ("input/corrupt.mp4", None),  # random bytes from the media fixture
        ("input/empty.mp4", b""),
    ],
    ids=["random-bytes", "empty-file"],
)
def test_unprocessable_input_fails_the_instance(failing, client, receiver, media, key, body):
    bucket, wid, tid, url = failing
    if body is None:
        body = media.corrupt_bytes()
    rf.upload(client, bucket, key, body, Metadata={"x-cos-meta-id": "broken"})

    d = receiver.wait_for(
        lambda d: d.path == receiver.path_of(url) and rf.callback_object(d) == key, what=f"the callback for {key}"
    )
    assert rf.media_type(d.header("content-type")) == "application/xml"
    ex = rf.callback_execution(d)
    dump = ET.tostring(ex, encoding="unicode")
    assert rf.child_names(ex) == rf.expected_children(1, 1), rf.child_names(ex)
    assert text_of(ex, "State") == "Failed", dump
    assert text_of(ex, "WorkflowId") == wid
    assert text_of(ex, "BucketId") == bucket
    (task,) = ex.findall("Tasks")
    rf.assert_task_shape(task)
    assert text_of(task, "State") == "Failed", dump
    assert text_of(task, "Name") == NODE
    assert text_of(task, "Type") == "Transcode"
    assert text_of(task, "TemplateId") == tid
    run_id = text_of(ex, "RunId")

    api = rf.get_execution(client, bucket, run_id)
    assert api["State"] == "Failed"
    assert api["Object"] == key
    (api_task,) = rf.as_list(api.get("Tasks"))
    assert api_task["State"] == "Failed"
    assert api_task["JobId"] == text_of(task, "JobId")
    code, message = api_task.get("Code") or "", api_task.get("Message") or ""
    assert code and code != "Success", f"failed task Code {code!r}"
    assert message and message.lower() != "success", f"failed task Message {message!r}"
    assert REASON.search(message), f"Message does not say why the input failed: {message!r}"

    states = {e["RunId"]: e["State"] for e in rf.list_executions(client, bucket, wid)}
    assert states.get(run_id) == "Failed", states

    assert rf.list_keys(client, bucket, f"out/{run_id}/") == [], "a failed transcode must leave no output"
