"""What starts a workflow instance and what must not: State, ObjectPrefix, ExtFilter, manual
triggers, several workflows on one upload, and no loops through the workflow's own outputs."""

from __future__ import annotations

import time

import reelflow_e2e as rf
from reelflow_e2e import text_of

QUIET = 3.0  # seconds to wait before concluding that nothing started


def _single_transcode_workflow(client, bucket, url, *, name="trig", prefix="input/", output="out/${RunId}/${InputName}.${Ext}", state="Active"):
    tid = rf.create_transcode_template(client, bucket, f"{name}_tpl", 256, 144)
    body = rf.workflow_body(
        name, {"Transcode_1": rf.transcode_node(tid, bucket, output)}, notify_url=url, prefix=prefix, state=state
    )
    return rf.create_workflow(client, bucket, body)


def _objects_of(receiver, url) -> list[str | None]:
    return [rf.callback_object(d) for d in receiver.deliveries(url)]


def test_paused_workflow_ignores_uploads_but_runs_when_triggered(client, receiver, media, bucket):
    url = receiver.url("paused")
    wid = _single_transcode_workflow(client, bucket, url, name="paused")

    resp = client.ci_update_workflow_state(Bucket=bucket, WorkflowId=wid, UpdateState="paused")
    assert resp["MediaWorkflow"]["State"] == "Paused", resp
    assert resp["MediaWorkflow"]["WorkflowId"] == wid
    (listed,) = rf.as_list(client.ci_get_workflow(Bucket=bucket, Ids=wid).get("MediaWorkflowList"))
    assert listed["WorkflowId"] == wid and listed["State"] == "Paused", listed

    key = "input/paused.mp4"
    rf.upload(client, bucket, key, media.video_bytes())
    time.sleep(QUIET)
    assert rf.list_executions(client, bucket, wid) == [], "a Paused workflow must not start on upload"
    assert receiver.deliveries(url) == []

    resp = client.ci_trigger_workflow(Bucket=bucket, WorkflowId=wid, Key=key)
    run_id = resp.get("InstanceId")
    assert run_id and rf.RUN_ID.match(run_id), resp
    d = receiver.wait_for(lambda d: d.path == receiver.path_of(url), what="the callback of the triggered run")
    ex = rf.callback_execution(d)
    assert text_of(ex, "RunId") == run_id
    assert text_of(ex, "Object") == key
    assert text_of(ex, "State") == "Success"
    assert rf.child_names(ex) == rf.expected_children(0, 1), "uploaded without x-cos-meta-*: no CosHeaders"
    assert [e["RunId"] for e in rf.list_executions(client, bucket, wid)] == [run_id]

    resp = client.ci_update_workflow_state(Bucket=bucket, WorkflowId=wid, UpdateState="active")
    assert resp["MediaWorkflow"]["State"] == "Active", resp


def test_prefix_and_extension_filters(client, receiver, media, bucket):
    url = receiver.url("filters")
    wid = _single_transcode_workflow(client, bucket, url, name="filters")
    video = media.video_bytes()
    ignored = [
        "other/outside.mp4",  # outside the prefix
        "inputs.mp4",  # shares the prefix text but not the "input/" directory
        "Input/case.mp4",  # prefixes are case-sensitive like keys
        "input/readme.txt",  # not a video extension
        "input/cover.jpg",
        "input/noextension",
    ]
    for key in ignored:
        rf.upload(client, bucket, key, video)
    started = ["input/good.mp4", "input/sub/UPPER.MP4"]  # extensions match case-insensitively
    for key in started:
        rf.upload(client, bucket, key, video)

    receiver.wait_count(url, len(started))
    time.sleep(QUIET)
    executions = rf.list_executions(client, bucket, wid)
    assert sorted(e["Object"] for e in executions) == sorted(started), executions
    assert sorted(_objects_of(receiver, url)) == sorted(started)
    assert all(e["State"] == "Success" for e in executions), executions


def test_one_upload_starts_every_matching_workflow_once(client, receiver, media, bucket):
    url_a, url_b = receiver.url("multi-a"), receiver.url("multi-b")
    wid_a = _single_transcode_workflow(client, bucket, url_a, name="multi_a", prefix="multi/", output="outa/${RunId}.${Ext}")
    wid_b = _single_transcode_workflow(client, bucket, url_b, name="multi_b", prefix="multi/", output="outb/${RunId}.${Ext}")
    rf.upload(client, bucket, "multi/clip.mp4", media.video_bytes())

    a = receiver.wait_for(lambda d: d.path == receiver.path_of(url_a), what="workflow A's callback")
    b = receiver.wait_for(lambda d: d.path == receiver.path_of(url_b), what="workflow B's callback")
    assert text_of(rf.callback_execution(a), "WorkflowId") == wid_a
    assert text_of(rf.callback_execution(b), "WorkflowId") == wid_b
    time.sleep(1.0)
    for wid, url in ((wid_a, url_a), (wid_b, url_b)):
        assert len(rf.list_executions(client, bucket, wid)) == 1
        assert len(receiver.deliveries(url)) == 1


def test_outputs_in_the_watched_prefix_do_not_retrigger(client, receiver, media, bucket):
    url = receiver.url("loop")
    # The output lands under the same watched prefix, with a video extension.
    wid = _single_transcode_workflow(client, bucket, url, name="loop", prefix="loop/", output="loop/${RunId}_${InputName}.${Ext}")
    rf.upload(client, bucket, "loop/src.mp4", media.video_bytes())

    d = receiver.wait_for(lambda d: d.path == receiver.path_of(url), what="the loop workflow's callback")
    run_id = text_of(rf.callback_execution(d), "RunId")
    assert rf.list_keys(client, bucket, "loop/") == sorted(["loop/src.mp4", f"loop/{run_id}_src.mp4"])
    time.sleep(QUIET)
    executions = rf.list_executions(client, bucket, wid)
    assert [e["RunId"] for e in executions] == [run_id], executions
    assert len(receiver.deliveries(url)) == 1
