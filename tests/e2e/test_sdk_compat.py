"""The compatibility suite of issue #3: every workflow, template, job, queue and execution method of
cos-python-sdk-v5 listed in ci-api-reference.md §10.1, called against the real server, with the
parsed results asserted; plus a smoke run of the npm `cos-nodejs-sdk-v5` (tests/e2e/sdk_node/).

Sections: workflows · executions · templates · jobs · queues · errors · inventory triggers · Node.
Helpers live in compat_support.py."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import time
import xml.etree.ElementTree as ET
from dataclasses import dataclass
from pathlib import Path

import pytest
import requests
from qcloud_cos.cos_exception import CosServiceError

import compat_support as cs
import reelflow_e2e as rf
from compat_support import ci_error

HERE = Path(__file__).resolve().parent
QUIET = 2.5  # seconds to wait before concluding that something did not happen


@pytest.fixture
def source(client, bucket, media) -> str:
    """The 2 s sample clip uploaded to the test's bucket (no workflow exists there yet)."""
    key = "src/in.mp4"
    rf.upload(client, bucket, key, media.video_bytes())
    return key


# =====================================================================================================
# Workflows: ci_create_workflow, ci_get_workflow, ci_update_workflow, ci_update_workflow_state,
# ci_delete_workflow
# =====================================================================================================
def test_workflow_lifecycle(client, bucket):
    tid = cs.transcode_template(client, bucket)
    body = rf.workflow_body(
        "compat-life",
        {"Transcode_1": rf.transcode_node(tid, bucket, "out/${RunId}/${InputName}.${Ext}")},
        notify_url=None,
        state="Paused",
    )

    # create
    created = client.ci_create_workflow(Bucket=bucket, Body=body, ContentType="application/xml")
    assert created.get("RequestId"), created
    wf = created["MediaWorkflow"]
    wid = wf["WorkflowId"]
    assert rf.WORKFLOW_ID.match(wid), wid
    assert wf["Name"] == "compat-life"
    assert wf["State"] == "Paused"
    assert wf["BucketId"] == bucket
    for t in ("CreateTime", "UpdateTime"):
        assert rf.API_TIME.match(wf.get(t) or ""), f"{t} {wf.get(t)!r}"
    topo = wf["Topology"]
    assert topo["Dependencies"] == {"Start": "Transcode_1", "Transcode_1": "End"}, topo["Dependencies"]
    assert topo["Nodes"]["Start"]["Type"] == "Start"
    assert topo["Nodes"]["Transcode_1"]["Type"] == "Transcode"
    op = topo["Nodes"]["Transcode_1"]["Operation"]
    assert op["TemplateId"] == tid
    cs.assert_echo(
        rf.transcode_node(tid, bucket, "out/${RunId}/${InputName}.${Ext}")["Operation"]["Output"],
        op["Output"],
        "Transcode_1 Output",
    )

    # get by id: MediaWorkflowList is always a list
    got = client.ci_get_workflow(Bucket=bucket, Ids=wid)
    listed = cs.workflows_of(got)
    assert isinstance(got.get("MediaWorkflowList"), list), f"PY forces MediaWorkflowList to a list: {got}"
    assert [w["WorkflowId"] for w in listed] == [wid]
    assert listed[0]["Name"] == "compat-life" and listed[0]["State"] == "Paused"
    assert listed[0]["Topology"]["Dependencies"] == topo["Dependencies"]
    assert got.get("TotalCount") == "1", got

    # update while Paused
    body["MediaWorkflow"]["Name"] = "compat-life-2"
    body["MediaWorkflow"]["Topology"]["Nodes"]["Transcode_1"] = rf.transcode_node(tid, bucket, "v2/${RunId}.${Ext}")
    updated = client.ci_update_workflow(Bucket=bucket, WorkflowId=wid, Body=body, ContentType="application/xml")
    uwf = updated["MediaWorkflow"]
    assert uwf["WorkflowId"] == wid
    assert uwf["Name"] == "compat-life-2"
    assert uwf["Topology"]["Nodes"]["Transcode_1"]["Operation"]["Output"]["Object"] == "v2/${RunId}.${Ext}"
    assert rf.parse_api_time(uwf["UpdateTime"]) >= rf.parse_api_time(wf["CreateTime"])
    assert uwf["CreateTime"] == wf["CreateTime"], "CreateTime must not change on update"

    # activate: the full workflow with the new State
    active = client.ci_update_workflow_state(Bucket=bucket, WorkflowId=wid, UpdateState="active")
    awf = active["MediaWorkflow"]
    assert awf["State"] == "Active" and awf["WorkflowId"] == wid and awf["Name"] == "compat-life-2", awf
    assert awf["Topology"]["Dependencies"] == topo["Dependencies"], "state switch answers with the full workflow"

    # update while Active is refused
    with ci_error(400, "InvalidArgument", "ci_update_workflow of an Active workflow") as got_err:
        client.ci_update_workflow(Bucket=bucket, WorkflowId=wid, Body=body, ContentType="application/xml")
    assert "pause" in got_err[0].message.lower(), got_err[0]

    # pause
    paused = client.ci_update_workflow_state(Bucket=bucket, WorkflowId=wid, UpdateState="paused")
    assert paused["MediaWorkflow"]["State"] == "Paused", paused
    assert cs.workflows_of(client.ci_get_workflow(Bucket=bucket, Ids=wid))[0]["State"] == "Paused"

    # delete: WorkflowId echoed, then 404 everywhere
    deleted = client.ci_delete_workflow(Bucket=bucket, WorkflowId=wid)
    assert deleted.get("WorkflowId") == wid, deleted
    assert deleted.get("RequestId"), deleted
    after = client.ci_get_workflow(Bucket=bucket, Ids=wid)
    assert cs.workflows_of(after) == [], after
    assert wid in rf.as_list(after.get("NonExistIDs")), after
    with ci_error(404, "ResourceNotFound", "ci_delete_workflow of a deleted workflow"):
        client.ci_delete_workflow(Bucket=bucket, WorkflowId=wid)
    with ci_error(404, "ResourceNotFound", "ci_update_workflow_state of a deleted workflow"):
        client.ci_update_workflow_state(Bucket=bucket, WorkflowId=wid, UpdateState="active")


def test_get_workflow_name_filter_and_pages(client, bucket):
    tid = cs.transcode_template(client, bucket)
    names = ["compat-page-a", "compat-page-b", "compat-page-c", "other-wf"]
    ids = {n: cs.one_node_workflow(client, bucket, n, tid) for n in names}

    everything = client.ci_get_workflow(Bucket=bucket)
    assert sorted(w["WorkflowId"] for w in cs.workflows_of(everything)) == sorted(ids.values())
    assert everything.get("TotalCount") == "4", everything

    by_name = client.ci_get_workflow(Bucket=bucket, Name="other-wf")
    assert [w["WorkflowId"] for w in cs.workflows_of(by_name)] == [ids["other-wf"]], by_name

    seen: list[str] = []
    for page_number, want in [(1, 2), (2, 2), (3, 0)]:
        resp = client.ci_get_workflow(Bucket=bucket, PageNumber=str(page_number), PageSize="2")
        page = [w["WorkflowId"] for w in cs.workflows_of(resp)]
        assert len(page) == want, f"page {page_number} of size 2 holds {page}: {resp}"
        assert resp.get("PageNumber") == str(page_number) and resp.get("PageSize") == "2", resp
        assert resp.get("TotalCount") == "4", resp
        seen += page
    assert len(seen) == len(set(seen)) == 4 and set(seen) == set(ids.values()), f"pages not disjoint/complete: {seen}"

    two = client.ci_get_workflow(Bucket=bucket, Ids=f"{ids['compat-page-a']},{ids['compat-page-c']}")
    assert sorted(w["WorkflowId"] for w in cs.workflows_of(two)) == sorted([ids["compat-page-a"], ids["compat-page-c"]])


def test_get_workflow_reports_nonexistent_ids(client, bucket):
    tid = cs.transcode_template(client, bucket)
    wid = cs.one_node_workflow(client, bucket, "compat-nonexist", tid)
    resp = client.ci_get_workflow(Bucket=bucket, Ids=f"{wid},{cs.UNKNOWN_WORKFLOW}")
    assert [w["WorkflowId"] for w in cs.workflows_of(resp)] == [wid], resp
    assert rf.as_list(resp.get("NonExistIDs")) == [cs.UNKNOWN_WORKFLOW], resp


def _topology(bucket: str, tid: str, snap: str, case: str) -> tuple[dict, list[str]]:
    """An invalid MediaWorkflow body and the words its error Message must contain."""
    out = "out/${RunId}.${Ext}"
    trans = rf.transcode_node(tid, bucket, out)
    if case == "unsupported-node-type":
        nodes = {
            "VoiceSeparate_1": {
                "Type": "VoiceSeparate",
                "Operation": {"TemplateId": tid, "Output": cs.output(bucket, out)},
            }
        }
        return rf.workflow_body("bad", nodes, notify_url=None, state="Paused"), ["VoiceSeparate_1", "VoiceSeparate"]
    if case == "undeclared-successor":
        deps = {"Start": "Transcode_1,Transcode_ghost", "Transcode_1": "End"}
        return rf.workflow_body("bad", {"Transcode_1": trans}, notify_url=None, state="Paused", dependencies=deps), [
            "Transcode_ghost"
        ]
    if case == "disallowed-successor":
        deps = {"Start": "Snapshot_1", "Snapshot_1": "Transcode_1", "Transcode_1": "End"}
        nodes = {"Snapshot_1": rf.snapshot_node(snap, bucket, "snap/${Number}.jpg"), "Transcode_1": trans}
        return rf.workflow_body("bad", nodes, notify_url=None, state="Paused", dependencies=deps), [
            "Snapshot_1",
            "Transcode",
        ]
    if case == "cycle":
        deps = {"Start": "Transcode_1", "Transcode_1": "Snapshot_1", "Snapshot_1": "Transcode_1"}
        nodes = {"Transcode_1": trans, "Snapshot_1": rf.snapshot_node(snap, bucket, "snap/${Number}.jpg")}
        return rf.workflow_body("bad", nodes, notify_url=None, state="Paused", dependencies=deps), ["Snapshot_1"]
    if case == "unknown-template":
        nodes = {"Transcode_1": rf.transcode_node(cs.UNKNOWN_TEMPLATE, bucket, out)}
        return rf.workflow_body("bad", nodes, notify_url=None, state="Paused"), ["Transcode_1", cs.UNKNOWN_TEMPLATE]
    if case == "template-of-wrong-tag":
        nodes = {"Transcode_1": rf.transcode_node(snap, bucket, out)}
        return rf.workflow_body("bad", nodes, notify_url=None, state="Paused"), ["Transcode_1"]
    if case == "snapshot-without-number":
        nodes = {"Snapshot_1": rf.snapshot_node(snap, bucket, "snap/one.jpg")}
        return rf.workflow_body("bad", nodes, notify_url=None, state="Paused"), ["Snapshot_1", "${Number}"]
    raise ValueError(case)


TOPOLOGY_CASES = [
    "unsupported-node-type",
    "undeclared-successor",
    "disallowed-successor",
    "cycle",
    "unknown-template",
    "template-of-wrong-tag",
    "snapshot-without-number",
]


@pytest.mark.parametrize("case", TOPOLOGY_CASES)
def test_topology_validation_errors_name_the_node(client, bucket, case):
    tid = cs.transcode_template(client, bucket)
    snap = rf.create_snapshot_template(client, bucket, "compat-snap", count=2)
    body, words = _topology(bucket, tid, snap, case)
    with ci_error(400, "InvalidArgument", f"ci_create_workflow with topology problem {case}") as got:
        client.ci_create_workflow(Bucket=bucket, Body=body, ContentType="application/xml")
    msg = got[0].message
    for w in words:
        assert w in msg, f"{case}: error Message {msg!r} does not name {w!r}"
    assert cs.workflows_of(client.ci_get_workflow(Bucket=bucket)) == [], "a refused workflow must not be stored"


# =====================================================================================================
# Executions: ci_trigger_workflow, ci_get_workflowexecution, ci_list_workflowexecution
# =====================================================================================================
GOOD_KEYS = ["input/one.mp4", "input/two.mp4", "input/three.mp4"]
BROKEN_KEY = "input/broken.mp4"


@dataclass
class Runs:
    bucket: str
    workflow_id: str
    template_id: str
    run_ids: dict[str, str]  # key -> RunId, in trigger order
    executions: dict[str, dict]  # RunId -> finished execution
    before: object  # datetime just before the first trigger

    def ordered(self) -> list[str]:
        return list(self.run_ids.values())

    def run_of(self, key: str) -> str:
        return self.run_ids[key]


@pytest.fixture(scope="module")
def runs(client, media) -> Runs:
    """One Paused workflow (Start → Transcode_1 → End) triggered on three clips and one broken file."""
    bucket = rf.create_bucket(client, "runs")
    tid = cs.transcode_template(client, bucket, "compat-runs")
    wid = cs.one_node_workflow(client, bucket, "compat-runs", tid)
    for key in GOOD_KEYS:
        rf.upload(client, bucket, key, media.video_bytes())
    rf.upload(client, bucket, BROKEN_KEY, media.corrupt_bytes())
    before = cs.now(-1).replace(microsecond=0)
    run_ids: dict[str, str] = {}
    for key in [*GOOD_KEYS, BROKEN_KEY]:
        resp = client.ci_trigger_workflow(Bucket=bucket, WorkflowId=wid, Key=key)
        run_id = resp.get("InstanceId")
        assert run_id and rf.RUN_ID.match(run_id), f"ci_trigger_workflow: {resp}"
        assert resp.get("RequestId"), resp
        run_ids[key] = run_id
        time.sleep(0.05)
    executions = {r: cs.wait_execution(client, bucket, r) for r in run_ids.values()}
    return Runs(bucket, wid, tid, run_ids, executions, before)


def test_trigger_returns_distinct_instance_ids(runs):
    ids = runs.ordered()
    assert len(set(ids)) == 4, ids
    assert ids == sorted(ids), f"RunIds are time-ordered (decisions.md IDs): {ids}"


def test_get_workflowexecution_fields(client, runs):
    run_id = runs.run_of("input/one.mp4")
    resp = client.ci_get_workflowexecution(Bucket=runs.bucket, RunId=run_id)
    assert isinstance(resp.get("WorkflowExecution"), list), f"PY forces WorkflowExecution to a list: {resp}"
    (ex,) = resp["WorkflowExecution"]
    assert ex["RunId"] == run_id
    assert ex["WorkflowId"] == runs.workflow_id
    assert ex["WorkflowName"] == "compat-runs"
    assert ex["State"] == "Success", ex
    assert rf.API_TIME.match(ex["CreateTime"]), ex["CreateTime"]
    assert ex["Object"] == "input/one.mp4"
    assert ex["Topology"]["Dependencies"] == {"Start": "Transcode_1", "Transcode_1": "End"}, ex["Topology"]
    assert ex["Topology"]["Nodes"]["Transcode_1"]["Operation"]["TemplateId"] == runs.template_id

    tasks = rf.as_list(ex.get("Tasks"))
    assert len(tasks) == 1, tasks
    task = tasks[0]
    assert task["Type"] == "Transcode"
    assert rf.JOB_ID.match(task["JobId"]), task["JobId"]
    assert task["Name"] == "Transcode_1"
    assert task["State"] == "Success"
    assert task["Code"] == "Success", task
    assert "Message" in task, f"task has no Message element: {task}"
    for t in ("CreateTime", "StartTime", "EndTime"):
        assert rf.API_TIME.match(task.get(t) or ""), f"task {t} {task.get(t)!r}"
    assert (
        rf.parse_api_time(task["CreateTime"])
        <= rf.parse_api_time(task["StartTime"])
        <= rf.parse_api_time(task["EndTime"])
    )
    assert task["TemplateId"] == runs.template_id
    assert task["TemplateName"] == "compat-runs"


def test_get_workflowexecution_result_info(client, runs):
    run_id = runs.run_of("input/two.mp4")
    (task,) = rf.as_list(rf.get_execution(client, runs.bucket, run_id).get("Tasks"))
    info = task.get("ResultInfo")
    assert isinstance(info, dict), f"task has no ResultInfo: {task}"
    assert info.get("ObjectCount") == "1", info
    objects = rf.as_list(info.get("ObjectInfo"))
    assert [o.get("ObjectName") for o in objects] == [f"out/{run_id}/two.mp4"], info
    assert rf.list_keys(client, runs.bucket, f"out/{run_id}/") == [f"out/{run_id}/two.mp4"]


def test_failed_execution_explains_itself(client, runs):
    ex = runs.executions[runs.run_of(BROKEN_KEY)]
    assert ex["State"] == "Failed", ex
    (task,) = rf.as_list(ex.get("Tasks"))
    assert task["State"] == "Failed", task
    assert task.get("Code") and task["Code"] != "Success", task
    assert task.get("Message"), f"a failed task must say why: {task}"


def test_list_workflowexecution_default_is_desc(client, runs):
    listed = rf.list_executions(client, runs.bucket, runs.workflow_id)
    assert [e["RunId"] for e in listed] == runs.ordered()[::-1], listed
    for e in listed:
        assert e["WorkflowId"] == runs.workflow_id
        assert rf.API_TIME.match(e["CreateTime"]), e
        assert e["State"] in {"Success", "Failed"}, e
    assert {e["RunId"]: e["Object"] for e in listed} == {v: k for k, v in runs.run_ids.items()}


@pytest.mark.parametrize("size, order", [(1, "Desc"), (3, "Desc"), (2, "Asc")])
def test_list_workflowexecution_next_token_paging(client, runs, size, order):
    pages = cs.list_executions_paged(client, runs.bucket, runs.workflow_id, size, OrderByTime=order)
    ids = [e["RunId"] for page in pages for e in page]
    assert len(ids) == len(set(ids)), f"pages overlap: {[[e['RunId'] for e in p] for p in pages]}"
    want = runs.ordered() if order == "Asc" else runs.ordered()[::-1]
    assert ids == want, f"Size={size} {order}: paged {ids}, want {want}"
    assert sum(1 for p in pages if p) == -(-4 // size), [len(p) for p in pages]


def test_list_workflowexecution_states(client, runs):
    def ids(states):
        return sorted(e["RunId"] for e in rf.list_executions(client, runs.bucket, runs.workflow_id, States=states))

    good = sorted(runs.run_of(k) for k in GOOD_KEYS)
    assert ids("Success") == good
    assert ids("Failed") == [runs.run_of(BROKEN_KEY)]
    assert ids("Success,Failed") == sorted(runs.ordered())
    assert ids("Running") == []
    assert ids("All") == sorted(runs.ordered())


def test_list_workflowexecution_name(client, runs):
    listed = rf.list_executions(client, runs.bucket, runs.workflow_id, Name="input/two.mp4")
    assert [e["RunId"] for e in listed] == [runs.run_of("input/two.mp4")], listed


def test_list_workflowexecution_creation_time_window(client, runs):
    def ids(**kw):
        return sorted(e["RunId"] for e in rf.list_executions(client, runs.bucket, runs.workflow_id, **kw))

    start = cs.ci_time(runs.before)
    assert "T" in start and start.endswith("+0800"), start
    assert ids(StartCreationTime=start) == sorted(runs.ordered())
    assert ids(StartCreationTime=start, EndCreationTime=cs.ci_time(cs.now(60))) == sorted(runs.ordered())
    assert ids(StartCreationTime=cs.ci_time(cs.now(3600))) == []
    assert ids(EndCreationTime=cs.ci_time(cs.now(-3600))) == []


def test_workflow_task_is_a_job_with_a_workflow_block(client, runs):
    run_id = runs.run_of("input/three.mp4")
    (task,) = rf.as_list(rf.get_execution(client, runs.bucket, run_id).get("Tasks"))
    job = cs.get_job(client, runs.bucket, task["JobId"])
    assert job["Tag"] == "Transcode", job
    assert job["State"] == "Success", job
    assert job.get("Input", {}).get("Object") == "input/three.mp4", job.get("Input")
    wf = job.get("Workflow")
    assert isinstance(wf, dict), f"a workflow task's job has no Workflow block: {job}"
    assert wf.get("Name") == "Transcode_1"
    assert wf.get("RunId") == run_id
    assert wf.get("WorkflowId") == runs.workflow_id
    assert wf.get("WorkflowName") == "compat-runs"


def test_workflow_notify_task_finish_and_workflow_finish(client, receiver, media, bucket):
    tid = cs.transcode_template(client, bucket)
    snap = rf.create_snapshot_template(client, bucket, "compat-notify-snap", count=2, width=160)
    url = receiver.url("compat-events")
    body = rf.workflow_body(
        "compat-events",
        {
            "Transcode_1": rf.transcode_node(tid, bucket, "out/${RunId}/${InputName}.${Ext}"),
            "Snapshot_1": rf.snapshot_node(snap, bucket, "snap/${RunId}/${Number}.jpg"),
        },
        notify_url=url,
        state="Paused",
    )
    body["MediaWorkflow"]["Topology"]["Nodes"]["Start"]["Input"]["NotifyConfig"]["Event"] = "TaskFinish,WorkflowFinish"
    wid = rf.create_workflow(client, bucket, body)
    rf.upload(client, bucket, "input/events.mp4", media.video_bytes())
    run_id = client.ci_trigger_workflow(Bucket=bucket, WorkflowId=wid, Key="input/events.mp4")["InstanceId"]

    deliveries = receiver.wait_count(url, 3, timeout=rf.CALLBACK_TIMEOUT)
    time.sleep(QUIET)  # nothing more may arrive
    deliveries = receiver.deliveries(url)
    tasks = [d for d in deliveries if cs.is_task_finish(d)]
    finishes = [d for d in deliveries if cs.is_workflow_finish(d)]
    assert (len(tasks), len(finishes), len(deliveries)) == (2, 1, 3), [d.body[:200] for d in deliveries]

    ex = rf.callback_execution(finishes[0])
    assert rf.text_of(ex, "RunId") == run_id
    assert rf.text_of(ex, "State") == "Success"
    finish_jobs = {rf.text_of(t, "Name"): rf.text_of(t, "JobId") for t in ex.findall("Tasks")}
    assert set(finish_jobs) == {"Transcode_1", "Snapshot_1"}, finish_jobs

    task_jobs = {}
    for d in tasks:
        assert rf.media_type(d.header("content-type")) == "application/xml", d.header("content-type")
        root = cs.xml_root(d)
        assert rf.text_of(root, "EventName") == "TaskFinish", d.body[:300]
        detail = root.find("JobsDetail")
        assert rf.text_of(detail, "State") == "Success", ET.tostring(detail, encoding="unicode")
        wf = detail.find("Workflow")
        assert wf is not None, f"TaskFinish of a workflow task has no Workflow block: {d.body[:500]!r}"
        assert rf.text_of(wf, "RunId") == run_id
        assert rf.text_of(wf, "WorkflowId") == wid
        assert rf.text_of(wf, "WorkflowName") == "compat-events"
        task_jobs[rf.text_of(wf, "Name")] = rf.text_of(detail, "JobId")
    assert task_jobs == finish_jobs, f"TaskFinish jobs {task_jobs} != WorkflowFinish tasks {finish_jobs}"


# =====================================================================================================
# Templates: ci_create_template, ci_update_template, ci_get_template, ci_delete_template
# =====================================================================================================
@pytest.mark.parametrize("case", cs.TEMPLATE_CASES, ids=cs.TEMPLATE_TAGS)
def test_template_lifecycle(client, bucket, case):
    name = f"compat-{case.tag.lower()}"
    request = case.request(bucket, name)
    created = client.ci_create_template(Bucket=bucket, Template=request)
    assert created.get("RequestId"), created
    tpl = created["Template"]
    cs.assert_template_shape(tpl, bucket, case.tag, name)
    cs.assert_echo(case.params(request), tpl.get(case.container), f"{case.tag} Template.{case.container}")
    tid = tpl["TemplateId"]

    # get by id, by name prefix, and the Custom list
    by_id = client.ci_get_template(Bucket=bucket, Ids=tid)
    assert isinstance(by_id.get("TemplateList"), list), f"PY forces TemplateList to a list: {by_id}"
    (listed,) = cs.templates_of(by_id)
    assert listed["TemplateId"] == tid and listed["Tag"] == case.tag and listed["Category"] == "Custom", listed
    assert listed.get(case.container) == tpl.get(case.container), "listing and create response disagree"
    by_name = client.ci_get_template(Bucket=bucket, Name=name[:-2])
    assert [t["TemplateId"] for t in cs.templates_of(by_name)] == [tid], by_name
    assert cs.templates_of(client.ci_get_template(Bucket=bucket, Name="zz-no-such-prefix")) == []

    # update
    new_name = name + "-v2"
    update = case.request(bucket, new_name, "update")
    updated = client.ci_update_template(Bucket=bucket, TemplateId=tid, Template=update)
    utpl = updated["Template"]
    cs.assert_template_shape(utpl, bucket, case.tag, new_name)
    assert utpl["TemplateId"] == tid
    assert utpl["CreateTime"] == tpl["CreateTime"]
    assert rf.parse_api_time(utpl["UpdateTime"]) >= rf.parse_api_time(tpl["UpdateTime"])
    cs.assert_echo(case.params(update), utpl.get(case.container), f"updated {case.tag} Template.{case.container}")
    (relisted,) = cs.templates_of(client.ci_get_template(Bucket=bucket, Ids=tid))
    assert relisted["Name"] == new_name and relisted.get(case.container) == utpl.get(case.container)

    # the Tag of a template cannot change
    other = next(c for c in cs.TEMPLATE_CASES if c.tag == ("Transcode" if case.tag == "Snapshot" else "Snapshot"))
    with ci_error(400, "InvalidArgument", f"ci_update_template turning a {case.tag} template into {other.tag}"):
        client.ci_update_template(Bucket=bucket, TemplateId=tid, Template=other.request(bucket, new_name))

    # delete
    deleted = client.ci_delete_template(Bucket=bucket, TemplateId=tid)
    assert deleted.get("TemplateId") == tid, deleted
    assert cs.templates_of(client.ci_get_template(Bucket=bucket, Ids=tid)) == []
    with ci_error(404, "ResourceNotFound", "ci_delete_template of a deleted template"):
        client.ci_delete_template(Bucket=bucket, TemplateId=tid)
    with ci_error(404, "ResourceNotFound", "ci_update_template of a deleted template"):
        client.ci_update_template(Bucket=bucket, TemplateId=tid, Template=update)


def test_get_template_pages_ids_and_prefix(client, bucket):
    ids = [rf.create_transcode_template(client, bucket, f"compat-pg-{i}", 256, 144) for i in range(5)]
    snap = rf.create_snapshot_template(client, bucket, "compat-other-snap")

    everything = client.ci_get_template(Bucket=bucket, PageSize=100)
    assert sorted(t["TemplateId"] for t in cs.templates_of(everything)) == sorted([*ids, snap])
    assert everything.get("TotalCount") == "6", everything

    seen: list[str] = []
    for page_number, want in [(1, 2), (2, 2), (3, 1), (4, 0)]:
        resp = client.ci_get_template(Bucket=bucket, Name="compat-pg-", PageNumber=page_number, PageSize=2)
        page = [t["TemplateId"] for t in cs.templates_of(resp)]
        assert len(page) == want, f"page {page_number}: {page}"
        assert (
            resp.get("TotalCount") == "5" and resp.get("PageNumber") == str(page_number) and resp.get("PageSize") == "2"
        ), resp
        seen += page
    assert len(seen) == len(set(seen)) and set(seen) == set(ids), f"pages not disjoint/complete: {seen}"

    two = client.ci_get_template(Bucket=bucket, Ids=f"{ids[1]},{snap}")
    assert sorted(t["TemplateId"] for t in cs.templates_of(two)) == sorted([ids[1], snap])


@pytest.fixture
def official(client, bucket) -> list[dict]:
    resp = client.ci_get_template(Bucket=bucket, Category="Official", PageSize=100)
    templates = cs.templates_of(resp)
    assert templates, f"ci_get_template(Category='Official') lists no Official templates: {resp}"
    return templates


def test_official_templates_are_listed(client, bucket, official):
    tags = set()
    for t in official:
        cs.assert_template_shape(t, bucket, t.get("Tag"), t.get("Name"), category="Official")
        assert t["Tag"] in cs.TEMPLATE_TAGS, t
        tags.add(t["Tag"])
    assert "Transcode" in tags, f"no Official Transcode template among {sorted(tags)}"
    custom = {t["TemplateId"] for t in cs.templates_of(client.ci_get_template(Bucket=bucket, PageSize=100))}
    assert not custom & {t["TemplateId"] for t in official}, "Official templates must not be listed as Custom"
    (by_id,) = cs.templates_of(
        client.ci_get_template(Bucket=bucket, Category="Official", Ids=official[0]["TemplateId"])
    )
    assert by_id["TemplateId"] == official[0]["TemplateId"]


def test_official_templates_are_read_only(client, bucket, official):
    tpl = next((t for t in official if t["Tag"] == "Transcode"), official[0])
    tid = tpl["TemplateId"]
    case = next(c for c in cs.TEMPLATE_CASES if c.tag == tpl["Tag"])
    with ci_error((400, 403, 404, 405, 409), None, "ci_update_template of an Official template"):
        client.ci_update_template(Bucket=bucket, TemplateId=tid, Template=case.request(bucket, "hijacked", "update"))
    with ci_error((400, 403, 404, 405, 409), None, "ci_delete_template of an Official template"):
        client.ci_delete_template(Bucket=bucket, TemplateId=tid)
    (still,) = cs.templates_of(client.ci_get_template(Bucket=bucket, Category="Official", Ids=tid))
    assert still["Name"] == tpl["Name"] and still.get("TransTpl") == tpl.get("TransTpl"), still


# =====================================================================================================
# Jobs: ci_create_media_jobs, ci_get_media_jobs, ci_list_media_jobs, ci_cancel_jobs
# =====================================================================================================
@dataclass
class DoneJob:
    bucket: str
    queue_id: str | None
    request: dict
    submitted: dict
    final: dict
    dst: str


@pytest.fixture(scope="module")
def inline_job(client, media) -> DoneJob:
    bucket = rf.create_bucket(client, "job")
    rf.upload(client, bucket, "src/in.mp4", media.video_bytes())
    # not under jobs/: on the .cos. host GET /jobs/<x> is the CI job API, so such keys are not
    # readable with get_object (README "Using it with the official Python SDK")
    request = cs.transcode_job(bucket, "src/in.mp4", "transcoded/out.mp4")
    request["Operation"]["UserData"] = "compat-user-data"
    submitted = cs.submit(client, bucket, request)
    final = cs.wait_job(client, bucket, submitted["JobId"])
    queue_id = None
    try:
        queue_id = cs.default_queue(client, bucket)["QueueId"]
    except (CosServiceError, AssertionError):
        pass
    return DoneJob(bucket, queue_id, request, submitted, final, "transcoded/out.mp4")


def test_create_media_jobs_response(inline_job):
    job, bucket = inline_job.submitted, inline_job.bucket
    assert job["Tag"] == "Transcode", job
    assert job["State"] in {"Submitted", "Running", "Success"}, job
    assert rf.API_TIME.match(job.get("CreationTime") or ""), f"CreationTime {job.get('CreationTime')!r}"
    assert cs.QUEUE_ID.match(job.get("QueueId") or ""), f"QueueId {job.get('QueueId')!r}"
    if inline_job.queue_id:
        assert job["QueueId"] == inline_job.queue_id, "jobs without QueueId go to the bucket's default queue"
    assert job["Input"]["BucketId"] == bucket, job["Input"]
    assert job["Input"]["Object"] == "src/in.mp4", job["Input"]
    op = job["Operation"]
    cs.assert_echo(inline_job.request["Operation"]["Output"], op.get("Output"), "JobsDetail.Operation.Output")
    assert op.get("UserData") == "compat-user-data", op


def test_job_echoes_inline_parameters(inline_job):
    """ci-api-reference.md §6: JobsDetail.Operation echoes the request (plus results)."""
    for name, detail in [("submit", inline_job.submitted), ("describe", inline_job.final)]:
        cs.assert_echo(
            cs.INLINE_TRANSCODE, detail["Operation"].get("Transcode"), f"{name} JobsDetail.Operation.Transcode"
        )


def test_transcode_job_runs_ffmpeg(client, inline_job, ffprobe, tmp_path):
    final = inline_job.final
    assert final["State"] == "Success", final
    assert final.get("Code") == "Success", final
    for t in ("CreationTime", "StartTime", "EndTime"):
        assert rf.API_TIME.match(final.get(t) or ""), f"{t} {final.get(t)!r}"
    probe = ffprobe(rf.download(client, inline_job.bucket, inline_job.dst, tmp_path / "out.mp4"))
    (video,) = rf.streams(probe, "video")
    (audio,) = rf.streams(probe, "audio")
    assert video["codec_name"] == "h264" and (video["width"], video["height"]) == (256, 144), video
    assert abs(rf.frame_rate(video) - 15.0) < 0.5, video.get("avg_frame_rate")
    assert audio["codec_name"] == "aac" and audio["channels"] == 2, audio


def test_finished_job_reports_media_result(inline_job):
    result = inline_job.final.get("Operation", {}).get("MediaResult")
    assert isinstance(result, dict), f"finished job has no Operation.MediaResult: {inline_job.final}"
    out = result.get("OutputFile") or {}
    assert out.get("Bucket") == inline_job.bucket and out.get("Region") == rf.REGION, out
    prefix = out.get("ObjectPrefix") or ""
    written = [n if n.startswith(prefix) else prefix + n for n in rf.as_list(out.get("ObjectName"))]
    assert written == [inline_job.dst], f"MediaResult.OutputFile names {written}, want [{inline_job.dst!r}]: {out}"


def test_snapshot_job_with_template(client, bucket, source, ffprobe, tmp_path):
    snap = rf.create_snapshot_template(client, bucket, "compat-job-snap", count=2, width=160)
    job = cs.submit(
        client,
        bucket,
        {
            "Tag": "Snapshot",
            "Input": {"Object": source},
            "Operation": {"TemplateId": snap, "Output": cs.output(bucket, "snap/${Number}.jpg")},
        },
    )
    assert job["Tag"] == "Snapshot"
    assert job["Operation"].get("TemplateId") == snap, job["Operation"]
    final = cs.wait_job(client, bucket, job["JobId"])
    assert final["State"] == "Success", final
    keys = rf.list_keys(client, bucket, "snap/")
    assert keys == ["snap/0.jpg", "snap/1.jpg"], keys
    (video,) = rf.streams(ffprobe(rf.download(client, bucket, keys[0], tmp_path / "0.jpg")), "video")
    assert video["codec_name"] == "mjpeg" and (video["width"], video["height"]) == (160, 120), video


def test_get_media_jobs_several_and_unknown(client, bucket, source):
    a = cs.submit(client, bucket, cs.transcode_job(bucket, source, "multi/a.mp4"))["JobId"]
    b = cs.submit(client, bucket, cs.transcode_job(bucket, source, "multi/b.mp4"))["JobId"]
    jobs, missing = cs.get_jobs(client, bucket, a, b, cs.UNKNOWN_JOB)
    assert sorted(j["JobId"] for j in jobs) == sorted([a, b]), jobs
    assert missing == [cs.UNKNOWN_JOB], f"NonExistJobIds {missing}"
    for j in jobs:
        assert j["Tag"] == "Transcode" and j["State"] in cs.JOB_STATES, j
    jobs, missing = cs.get_jobs(client, bucket, cs.UNKNOWN_JOB)
    assert jobs == [] and missing == [cs.UNKNOWN_JOB]
    for j in (a, b):
        assert cs.wait_job(client, bucket, j)["State"] == "Success"


@dataclass
class JobSet:
    bucket: str
    queue_id: str | None
    transcodes: list[str]  # submission order; the last one failed
    failed: str
    snapshot: str
    before: object


@pytest.fixture(scope="module")
def job_set(client, media) -> JobSet:
    bucket = rf.create_bucket(client, "jobs")
    rf.upload(client, bucket, "src/in.mp4", media.video_bytes())
    rf.upload(client, bucket, "src/broken.mp4", media.corrupt_bytes())
    snap = rf.create_snapshot_template(client, bucket, "compat-list-snap", count=1, width=160)
    before = cs.now(-1).replace(microsecond=0)
    transcodes = []
    for i in range(3):
        transcodes.append(cs.submit(client, bucket, cs.transcode_job(bucket, "src/in.mp4", f"list/{i}.mp4"))["JobId"])
        time.sleep(0.05)
    failed = cs.submit(client, bucket, cs.transcode_job(bucket, "src/broken.mp4", "list/broken.mp4"))["JobId"]
    transcodes.append(failed)
    snapshot = cs.submit(
        client,
        bucket,
        {
            "Tag": "Snapshot",
            "Input": {"Object": "src/in.mp4"},
            "Operation": {"TemplateId": snap, "Output": cs.output(bucket, "lsnap/${Number}.jpg")},
        },
    )["JobId"]
    for j in [*transcodes, snapshot]:
        cs.wait_job(client, bucket, j)
    queue_id = None
    try:
        queue_id = cs.default_queue(client, bucket)["QueueId"]
    except (CosServiceError, AssertionError):
        pass
    return JobSet(bucket, queue_id, transcodes, failed, snapshot, before)


def test_failed_job_reports_code_and_message(client, job_set):
    job = cs.get_job(client, job_set.bucket, job_set.failed)
    assert job["State"] == "Failed", job
    assert job.get("Code") and job["Code"] != "Success", job
    assert job.get("Message"), f"a failed job must say why: {job}"


def test_list_media_jobs_by_tag_and_order(client, job_set):
    desc = client.ci_list_media_jobs(Bucket=job_set.bucket, Tag="Transcode", Size=100)
    assert isinstance(desc.get("JobsDetail"), list), f"PY forces JobsDetail to a list: {desc}"
    assert [j["JobId"] for j in desc["JobsDetail"]] == job_set.transcodes[::-1], "default OrderByTime is Desc"
    for j in desc["JobsDetail"]:
        assert j["Tag"] == "Transcode" and rf.API_TIME.match(j.get("CreationTime") or ""), j
    assert cs.listed_job_ids(client, job_set.bucket, "Transcode", OrderByTime="Asc") == job_set.transcodes
    assert cs.listed_job_ids(client, job_set.bucket, "Snapshot") == [job_set.snapshot]
    assert cs.listed_job_ids(client, job_set.bucket, "Animation") == []


def test_list_media_jobs_states(client, job_set):
    def ids(states):
        return sorted(cs.listed_job_ids(client, job_set.bucket, "Transcode", States=states))

    assert ids("Success") == sorted(job_set.transcodes[:3])
    assert ids("Failed") == [job_set.failed]
    assert ids("Success,Failed") == sorted(job_set.transcodes)
    assert ids("Submitted,Running") == []
    assert ids("All") == sorted(job_set.transcodes)


def test_list_media_jobs_queue_filter(client, job_set):
    assert job_set.queue_id, "no default queue (ci_get_media_queue failed)"
    assert sorted(cs.listed_job_ids(client, job_set.bucket, "Transcode", QueueId=job_set.queue_id)) == sorted(
        job_set.transcodes
    )


def test_list_media_jobs_creation_time_window(client, job_set):
    def ids(**kw):
        return sorted(cs.listed_job_ids(client, job_set.bucket, "Transcode", **kw))

    start = cs.ci_time(job_set.before)
    assert ids(StartCreationTime=start) == sorted(job_set.transcodes)
    assert ids(StartCreationTime=start, EndCreationTime=cs.ci_time(cs.now(60))) == sorted(job_set.transcodes)
    assert ids(StartCreationTime=cs.ci_time(cs.now(3600))) == []
    assert ids(EndCreationTime=cs.ci_time(cs.now(-3600))) == []


@pytest.mark.parametrize("size, order", [(1, "Desc"), (3, "Desc"), (2, "Asc")])
def test_list_media_jobs_next_token_paging(client, job_set, size, order):
    pages = cs.list_jobs_paged(client, job_set.bucket, "Transcode", size, OrderByTime=order)
    ids = [j["JobId"] for page in pages for j in page]
    assert len(ids) == len(set(ids)), f"pages overlap: {[[j['JobId'] for j in p] for p in pages]}"
    want = job_set.transcodes if order == "Asc" else job_set.transcodes[::-1]
    assert ids == want, f"Size={size} {order}: paged {ids}, want {want}"
    assert sum(1 for p in pages if p) == -(-4 // size), [len(p) for p in pages]


def test_cancel_running_job(client, bucket, tmp_path):
    long_clip = cs.make_long_video(tmp_path / "long.mp4", seconds=60)
    rf.upload(client, bucket, "src/long.mp4", long_clip.read_bytes())
    request = {
        "Tag": "Transcode",
        "Input": {"Object": "src/long.mp4"},
        "Operation": {
            "Transcode": {
                "Container": {"Format": "mp4"},
                # ~20 s of ffmpeg on a 2-core machine: long enough to cancel while Running, short
                # enough not to stall the suite if cancelling does not stop ffmpeg
                "Video": {"Codec": "H.264", "Width": "640", "Height": "360", "Crf": "18", "Preset": "slow"},
            },
            "Output": cs.output(bucket, "long/out.mp4"),
        },
    }
    job_id = cs.submit(client, bucket, request)["JobId"]
    running = cs.wait_job(client, bucket, job_id, {"Running", "Success", "Failed", "Cancel"}, timeout=30)
    assert running["State"] == "Running", f"the long job should still be running: {running}"

    assert client.ci_cancel_jobs(Bucket=bucket, JobID=job_id) == ""
    cancelled = cs.wait_job(client, bucket, job_id, {"Cancel", "Success", "Failed"}, timeout=15)
    assert cancelled["State"] == "Cancel", cancelled
    time.sleep(QUIET)
    assert cs.get_job(client, bucket, job_id)["State"] == "Cancel", "a cancelled job must stay cancelled"
    assert rf.list_keys(client, bucket, "long/") == [], "a cancelled job must not write its output"


@pytest.mark.parametrize("fmt", ["XML", "JSON"])
def test_job_callback(client, receiver, server, bucket, source, fmt):
    url = receiver.url(f"job-{fmt.lower()}")
    request = cs.transcode_job(bucket, source, f"cb/{fmt}.mp4", CallBack=url, CallBackFormat=fmt, CallBackType="Url")
    job_id = cs.submit(client, bucket, request)["JobId"]
    d = receiver.wait_for(
        lambda d: d.path == receiver.path_of(url),
        timeout=rf.CALLBACK_TIMEOUT,
        what=f"the {fmt} TaskFinish of job {job_id}",
    )
    assert d.method == "POST"
    assert rf.webhook_signature_ok(d, server.callback_secret), "job callbacks are signed like workflow callbacks"
    if fmt == "XML":
        assert rf.media_type(d.header("content-type")) == "application/xml", d.header("content-type")
        root = cs.xml_root(d)
        assert rf.child_names(root) == ["EventName", "JobsDetail"], rf.child_names(root)
        assert rf.text_of(root, "EventName") == "TaskFinish"
        detail = root.find("JobsDetail")
        assert rf.text_of(detail, "JobId") == job_id
        assert rf.text_of(detail, "State") == "Success"
        assert rf.text_of(detail, "Tag") == "Transcode"
        assert rf.text_of(detail.find("Input"), "Object") == source
    else:
        assert rf.media_type(d.header("content-type")) == "application/json", d.header("content-type")
        doc = json.loads(d.body)
        assert "Response" not in doc, "JSON callbacks have no Response root (as the workflow JSON callback)"
        assert doc.get("EventName") == "TaskFinish", doc
        details = doc.get("JobsDetail")
        assert isinstance(details, list) and len(details) == 1, f"JobsDetail is an array even with one job: {doc}"
        assert (
            details[0]["JobId"] == job_id and details[0]["State"] == "Success" and details[0]["Tag"] == "Transcode"
        ), details[0]
    time.sleep(1.5)
    assert len(receiver.deliveries(url)) == 1, "exactly one TaskFinish per job"


# =====================================================================================================
# Queues: ci_get_media_queue, ci_update_media_queue
# =====================================================================================================
def test_get_media_queue_default(client, bucket):
    resp = client.ci_get_media_queue(Bucket=bucket)
    assert isinstance(resp.get("QueueList"), list), f"PY forces QueueList to a list: {resp}"
    assert resp.get("RequestId"), resp
    assert resp.get("TotalCount") == "1", resp
    (q,) = resp["QueueList"]
    assert cs.QUEUE_ID.match(q.get("QueueId") or ""), q
    assert q.get("Name"), q
    assert q.get("State") == "Active", q
    for n in ("MaxConcurrent", "MaxSize"):
        assert (q.get(n) or "").isdigit() and int(q[n]) > 0, f"{n} {q.get(n)!r}"
    for t in ("CreateTime", "UpdateTime"):
        assert rf.API_TIME.match(q.get(t) or ""), f"{t} {q.get(t)!r}"
    assert "NotifyConfig" in q, q

    again = cs.default_queue(client, bucket)
    assert again["QueueId"] == q["QueueId"], "the default queue is stable"
    (by_id,) = cs.queues_of(client.ci_get_media_queue(Bucket=bucket, QueueIds=q["QueueId"]))
    assert by_id["QueueId"] == q["QueueId"]
    (active,) = cs.queues_of(client.ci_get_media_queue(Bucket=bucket, State="Active"))
    assert active["QueueId"] == q["QueueId"]
    assert cs.queues_of(client.ci_get_media_queue(Bucket=bucket, State="Paused")) == []

    other = rf.create_bucket(client, "q")
    assert cs.default_queue(client, other)["QueueId"] != q["QueueId"], "one queue per bucket"


def test_get_media_queue_reports_nonexistent_ids(client, bucket):
    resp = client.ci_get_media_queue(Bucket=bucket, QueueIds=cs.UNKNOWN_QUEUE)
    assert cs.queues_of(resp) == [], resp
    assert rf.as_list(resp.get("NonExistPIDs")) == [cs.UNKNOWN_QUEUE], resp


def test_paused_queue_holds_jobs_until_active(client, receiver, bucket, source):
    q = cs.default_queue(client, bucket)
    qid = q["QueueId"]
    notify = {
        "Url": receiver.url("queue-off"),
        "Event": "TaskFinish",
        "Type": "Url",
        "State": "Off",
        "ResultFormat": "XML",
    }
    resp = client.ci_update_media_queue(
        Bucket=bucket,
        QueueId=qid,
        Request={"Name": "compat-queue", "QueueID": qid, "State": "Paused", "NotifyConfig": notify},
    )
    assert resp.get("RequestId"), resp
    queue = cs.updated_queue(resp)
    assert queue["QueueId"] == qid and queue["Name"] == "compat-queue" and queue["State"] == "Paused", queue
    cs.assert_echo(notify, queue.get("NotifyConfig"), "Queue.NotifyConfig")
    listed = cs.default_queue(client, bucket)
    assert (listed["Name"], listed["State"]) == ("compat-queue", "Paused"), listed
    assert rf.parse_api_time(listed["UpdateTime"]) >= rf.parse_api_time(q["UpdateTime"])

    held = cs.submit(client, bucket, cs.transcode_job(bucket, source, "held/a.mp4"))
    dropped = cs.submit(client, bucket, cs.transcode_job(bucket, source, "held/b.mp4"))
    assert held["QueueId"] == qid and held["State"] == "Submitted", held
    time.sleep(QUIET)
    jobs, _ = cs.get_jobs(client, bucket, held["JobId"], dropped["JobId"])
    assert [j["State"] for j in jobs] == ["Submitted", "Submitted"], f"a Paused queue must hold its jobs: {jobs}"

    # a job may be cancelled while it waits
    client.ci_cancel_jobs(Bucket=bucket, JobID=dropped["JobId"])
    assert cs.wait_job(client, bucket, dropped["JobId"], {"Cancel"}, timeout=10)["State"] == "Cancel"

    resp = client.ci_update_media_queue(
        Bucket=bucket,
        QueueId=qid,
        Request={"Name": "compat-queue", "QueueID": qid, "State": "Active", "NotifyConfig": notify},
    )
    assert cs.updated_queue(resp)["State"] == "Active"
    assert cs.wait_job(client, bucket, held["JobId"])["State"] == "Success"
    time.sleep(0.5)
    assert cs.get_job(client, bucket, dropped["JobId"])["State"] == "Cancel"
    assert rf.list_keys(client, bucket, "held/") == ["held/a.mp4"]


def test_queue_notify_config_is_the_job_callback_fallback(client, receiver, bucket, source):
    qid = cs.default_queue(client, bucket)["QueueId"]
    url = receiver.url("queue-notify")
    notify = {"Url": url, "Event": "TaskFinish", "Type": "Url", "State": "On", "ResultFormat": "XML"}
    client.ci_update_media_queue(
        Bucket=bucket,
        QueueId=qid,
        Request={"Name": "compat-notify", "QueueID": qid, "State": "Active", "NotifyConfig": notify},
    )
    job_id = cs.submit(client, bucket, cs.transcode_job(bucket, source, "qn/out.mp4"))["JobId"]
    d = receiver.wait_for(
        lambda d: d.path == receiver.path_of(url), timeout=rf.CALLBACK_TIMEOUT, what="the queue's TaskFinish"
    )
    root = cs.xml_root(d)
    assert rf.text_of(root, "EventName") == "TaskFinish"
    assert rf.text_of(root.find("JobsDetail"), "JobId") == job_id


# =====================================================================================================
# Errors
# =====================================================================================================
@dataclass
class ErrCtx:
    bucket: str
    workflow_id: str
    template_id: str


@pytest.fixture(scope="module")
def err_ctx(client, media) -> ErrCtx:
    bucket = rf.create_bucket(client, "err")
    rf.upload(client, bucket, "src/in.mp4", media.video_bytes())
    tid = cs.transcode_template(client, bucket, "compat-err")
    wid = cs.one_node_workflow(client, bucket, "compat-err", tid)
    return ErrCtx(bucket, wid, tid)


def _valid_template(tag: str = "Transcode", name: str = "compat-x") -> dict:
    case = next(c for c in cs.TEMPLATE_CASES if c.tag == tag)
    return case.request("b-1250000000", name)


ERROR_CASES = {
    # unknown ids: 404 ResourceNotFound (decisions.md "Errors")
    "get_workflowexecution-unknown": (
        lambda c, e: c.ci_get_workflowexecution(Bucket=e.bucket, RunId=cs.UNKNOWN_RUN),
        404,
        "ResourceNotFound",
    ),
    "delete_workflow-unknown": (
        lambda c, e: c.ci_delete_workflow(Bucket=e.bucket, WorkflowId=cs.UNKNOWN_WORKFLOW),
        404,
        "ResourceNotFound",
    ),
    "update_workflow_state-unknown": (
        lambda c, e: c.ci_update_workflow_state(Bucket=e.bucket, WorkflowId=cs.UNKNOWN_WORKFLOW, UpdateState="active"),
        404,
        "ResourceNotFound",
    ),
    "trigger_workflow-unknown": (
        lambda c, e: c.ci_trigger_workflow(Bucket=e.bucket, WorkflowId=cs.UNKNOWN_WORKFLOW, Key="input/x.mp4"),
        404,
        "ResourceNotFound",
    ),
    "list_workflowexecution-unknown": (
        lambda c, e: c.ci_list_workflowexecution(Bucket=e.bucket, WorkflowId=cs.UNKNOWN_WORKFLOW),
        404,
        "ResourceNotFound",
    ),
    "update_template-unknown": (
        lambda c, e: c.ci_update_template(Bucket=e.bucket, TemplateId=cs.UNKNOWN_TEMPLATE, Template=_valid_template()),
        404,
        "ResourceNotFound",
    ),
    "delete_template-unknown": (
        lambda c, e: c.ci_delete_template(Bucket=e.bucket, TemplateId=cs.UNKNOWN_TEMPLATE),
        404,
        "ResourceNotFound",
    ),
    "cancel_jobs-unknown": (
        lambda c, e: c.ci_cancel_jobs(Bucket=e.bucket, JobID=cs.UNKNOWN_JOB),
        404,
        "ResourceNotFound",
    ),
    "update_media_queue-unknown": (
        lambda c, e: c.ci_update_media_queue(
            Bucket=e.bucket,
            QueueId=cs.UNKNOWN_QUEUE,
            Request={"Name": "x", "QueueID": cs.UNKNOWN_QUEUE, "State": "Active"},
        ),
        404,
        "ResourceNotFound",
    ),
    # invalid content: 400 InvalidArgument
    "list_workflowexecution-bad-order": (
        lambda c, e: c.ci_list_workflowexecution(Bucket=e.bucket, WorkflowId=e.workflow_id, OrderByTime="Sideways"),
        400,
        "InvalidArgument",
    ),
    "list_workflowexecution-bad-time": (
        lambda c, e: c.ci_list_workflowexecution(
            Bucket=e.bucket, WorkflowId=e.workflow_id, StartCreationTime="yesterday"
        ),
        400,
        "InvalidArgument",
    ),
    "list_workflowexecution-bad-state": (
        lambda c, e: c.ci_list_workflowexecution(Bucket=e.bucket, WorkflowId=e.workflow_id, States="Exploded"),
        400,
        "InvalidArgument",
    ),
    "create_template-bad-tag": (
        lambda c, e: c.ci_create_template(Bucket=e.bucket, Template={"Tag": "Bogus", "Name": "x"}),
        400,
        "InvalidArgument",
    ),
    "create_template-bad-format": (
        lambda c, e: c.ci_create_template(
            Bucket=e.bucket, Template={"Tag": "Transcode", "Name": "x", "Container": {"Format": "exe"}}
        ),
        400,
        "InvalidArgument",
    ),
    "create_workflow-no-topology": (
        lambda c, e: c.ci_create_workflow(
            Bucket=e.bucket, Body={"MediaWorkflow": {"Name": "x", "State": "Paused"}}, ContentType="application/xml"
        ),
        400,
        "InvalidArgument",
    ),
    "create_media_jobs-no-input": (
        lambda c, e: c.ci_create_media_jobs(
            Bucket=e.bucket,
            Jobs={
                "Tag": "Transcode",
                "Operation": {"TemplateId": e.template_id, "Output": cs.output(e.bucket, "x.mp4")},
            },
        ),
        400,
        "InvalidArgument",
    ),
    "create_media_jobs-bad-tag": (
        lambda c, e: c.ci_create_media_jobs(
            Bucket=e.bucket,
            Jobs={
                "Tag": "Teleport",
                "Input": {"Object": "a.mp4"},
                "Operation": {"Output": cs.output(e.bucket, "x.mp4")},
            },
        ),
        400,
        "InvalidArgument",
    ),
    "create_media_jobs-unknown-template": (
        lambda c, e: c.ci_create_media_jobs(
            Bucket=e.bucket,
            Jobs={
                "Tag": "Transcode",
                "Input": {"Object": "src/in.mp4"},
                "Operation": {"TemplateId": cs.UNKNOWN_TEMPLATE, "Output": cs.output(e.bucket, "x.mp4")},
            },
        ),
        (400, 404),
        {"InvalidArgument", "ResourceNotFound"},
    ),
    "create_media_jobs-missing-input-object": (
        lambda c, e: c.ci_create_media_jobs(
            Bucket=e.bucket,
            Jobs={
                "Tag": "Transcode",
                "Input": {"Object": "src/nothing-here.mp4"},
                "Operation": {"TemplateId": e.template_id, "Output": cs.output(e.bucket, "x.mp4")},
            },
        ),
        (400, 404),
        {"InvalidArgument", "ResourceNotFound", "NoSuchKey"},
    ),
    "list_media_jobs-bad-state": (
        lambda c, e: c.ci_list_media_jobs(Bucket=e.bucket, Tag="Transcode", States="Exploded"),
        400,
        "InvalidArgument",
    ),
}


@pytest.mark.parametrize("case", list(ERROR_CASES))
def test_ci_errors_are_clean(client, err_ctx, case):
    fn, status, codes = ERROR_CASES[case]
    with ci_error(status, codes, case) as got:
        fn(client, err_ctx)
    err = got[0]
    assert err.resource.startswith("/"), f"Resource should be the request path: {err}"


def test_sdk_error_accessors(client, err_ctx):
    """What an SDK user reads from CosServiceError: the plain Message, the Resource, a trace id."""
    with pytest.raises(CosServiceError) as info:
        client.ci_get_workflowexecution(Bucket=err_ctx.bucket, RunId=cs.UNKNOWN_RUN)
    e = info.value
    assert e.get_status_code() == 404
    assert e.get_error_code() == "ResourceNotFound"
    digest = e.get_digest_msg()
    assert isinstance(digest, dict), digest
    msg = e.get_error_msg()
    assert msg and "<Error>" not in msg, (
        f"get_error_msg() returns the whole XML body ({msg[:80]!r}…): the SDK does this when the response "
        "carries an `x-cos-error-code` header (cos_client.send_request), and then has no Resource/TraceId either"
    )
    assert digest.get("resource") == f"/workflowexecution/{cs.UNKNOWN_RUN}", digest
    assert e.get_request_id() and e.get_trace_id() not in ("", "Unknown"), digest


# =====================================================================================================
# Inventory (batch) triggers: supported, or refused with a clean CI error — never a crash
# =====================================================================================================
def test_inventory_trigger_methods(server, client, err_ctx):
    bucket = err_ctx.bucket
    job_body = {
        "Name": "compat-batch",
        "Type": "Workflow",
        "Input": {"Prefix": "input/"},
        "Operation": {"WorkflowIds": err_ctx.workflow_id},
    }
    created, err = cs.call_ci(lambda: client.ci_create_inventory_trigger_jobs(Bucket=bucket, JobBody=job_body))
    if err is None:
        details = rf.as_list(created.get("JobsDetail"))
        assert len(details) == 1 and details[0].get("JobId"), created
        job_id = details[0]["JobId"]
        got = client.ci_get_inventory_trigger_jobs(Bucket=bucket, JobID=job_id)
        assert [d.get("JobId") for d in rf.as_list(got.get("JobsDetail"))] == [job_id], got
        listed = client.ci_list_inventory_trigger_jobs(Bucket=bucket, WorkflowId=err_ctx.workflow_id)
        assert job_id in [d.get("JobId") for d in rf.as_list(listed.get("JobsDetail"))], listed
        resp = client.ci_delete_inventory_trigger_jobs(Bucket=bucket, JobId=job_id)
        assert resp.status_code == 200, resp.status_code
    else:
        fake = "b" + "0" * 32
        calls = {
            "ci_create_inventory_trigger_jobs": lambda: client.ci_create_inventory_trigger_jobs(
                Bucket=bucket, JobBody=job_body
            ),
            "ci_list_inventory_trigger_jobs": lambda: client.ci_list_inventory_trigger_jobs(Bucket=bucket),
            "ci_get_inventory_trigger_jobs": lambda: client.ci_get_inventory_trigger_jobs(Bucket=bucket, JobID=fake),
            "ci_delete_inventory_trigger_jobs": lambda: client.ci_delete_inventory_trigger_jobs(
                Bucket=bucket, JobId=fake
            ),
        }
        problems = []
        for name, fn in calls.items():
            try:
                fn()
                problems.append(f"{name} answered 2xx although inventory triggers are unsupported")
                continue
            except CosServiceError as exc:
                try:
                    e = cs.assert_clean_ci_error(exc)
                except AssertionError as ae:
                    problems.append(f"{name}: {ae}")
                    continue
            if not (400 <= e.status < 500 or e.status == 501):
                problems.append(f"{name}: HTTP {e.status} ({e.code}); want 4xx or 501")
            if e.code in {"NoSuchKey", "NoSuchResource"} or "object" in e.message.lower():
                problems.append(f"{name}: handled as an object request, not as a CI call: {e}")
        leaked = rf.list_keys(client, bucket, "inventorytriggerjob")
        if leaked:
            problems.append(f"CI calls were stored as objects: {leaked}")
        assert not problems, "inventory-trigger methods are unsupported but not cleanly refused:\n  " + "\n  ".join(
            problems
        )
    assert requests.get(f"{server.base_url}/_reelflow/health", timeout=5).status_code == 200


# =====================================================================================================
# Node.js: a smoke run of cos-nodejs-sdk-v5 (tests/e2e/sdk_node/smoke.js)
# =====================================================================================================
NODE_DIR = HERE / "sdk_node"


def _node_sdk_installed(pinned: str) -> bool:
    pkg = NODE_DIR / "node_modules" / "cos-nodejs-sdk-v5" / "package.json"
    try:
        return json.loads(pkg.read_text())["version"] == pinned
    except (OSError, ValueError, KeyError):
        return False


@pytest.fixture(scope="session")
def node_sdk() -> Path:
    node, npm = shutil.which("node"), shutil.which("npm")
    if node is None or npm is None:
        pytest.skip(
            "node/npm not installed: the cos-nodejs-sdk-v5 smoke test needs Node.js (apt-get install nodejs npm)"
        )
    pinned = json.loads((NODE_DIR / "package.json").read_text())["dependencies"]["cos-nodejs-sdk-v5"]
    if not _node_sdk_installed(pinned):
        cmd = (
            [npm, "ci", "--no-audit", "--no-fund"]
            if (NODE_DIR / "package-lock.json").exists()
            else [npm, "install", "--no-audit", "--no-fund"]
        )
        out = subprocess.run(cmd, cwd=NODE_DIR, capture_output=True, text=True, timeout=600)
        if out.returncode != 0:
            pytest.fail(
                f"`{' '.join(cmd)}` in {NODE_DIR} failed ({out.returncode}):\n{out.stdout[-3000:]}\n{out.stderr[-3000:]}",
                pytrace=False,
            )
        assert _node_sdk_installed(pinned), f"cos-nodejs-sdk-v5 {pinned} not installed by npm"
    return Path(node)


def test_sdk_node_smoke(server, node_sdk):
    bucket = rf.new_bucket_name("node")
    env = dict(
        os.environ,
        PORT=str(server.port),
        SECRET_ID=server.secret_id,
        SECRET_KEY=server.secret_key,
        BUCKET=bucket,
        REGION=rf.REGION,
    )
    out = subprocess.run(
        [str(node_sdk), "smoke.js"], cwd=NODE_DIR, env=env, capture_output=True, text=True, timeout=120
    )
    assert out.returncode == 0, f"smoke.js exited {out.returncode}:\n{out.stdout[-3000:]}\n{out.stderr[-3000:]}"
    report = json.loads(out.stdout.strip().splitlines()[-1])
    s = report["steps"]
    assert report["sdkVersion"] == "3.0.0", report["sdkVersion"]

    failed = {
        k: v["error"]
        for k, v in s.items()
        if "error" in v and not k.startswith(("getMissing", "ciMissing", "headDeleted"))
    }
    assert not failed, f"cos-nodejs-sdk-v5 steps failed: {json.dumps(failed, indent=1)[:3000]}"

    # object API, virtual-hosted through the SDK's `Ip` option
    assert s["putBucket"]["statusCode"] == 200 and s["headBucket"]["statusCode"] == 200, s
    assert s["putObject"]["statusCode"] == 200 and s["putObject"]["etag"], s["putObject"]
    head = s["headObject"]
    assert (head["contentLength"], rf.media_type(head["contentType"]), head["metaOrigin"]) == (
        "29",
        "text/plain",
        "node-smoke",
    ), head
    assert head["etag"] == s["putObject"]["etag"]
    assert s["getObject"]["body"] == "hello from cos-nodejs-sdk-v5\n", s["getObject"]
    assert (s["getObjectRange"]["statusCode"], s["getObjectRange"]["body"]) == (206, "hello"), s["getObjectRange"]
    assert s["getBucket"]["keys"] == ["node/hello.txt"], s["getBucket"]
    missing = s["getMissingObject"].get("error") or {}
    assert (missing.get("statusCode"), missing.get("code")) == (404, "NoSuchKey"), s["getMissingObject"]

    # path-style through `Domain: 127.0.0.1:PORT` with the bucket in the Key
    assert s["pathStylePutObject"]["statusCode"] == 200 and s["pathStyleReadBack"]["body"] == "path-style\n", s

    # CI API through cos.request
    created = s["ciCreateTemplate"]
    tpl = created["template"]
    assert cs.CUSTOM_TEMPLATE_ID.match(tpl.get("TemplateId") or ""), created
    assert (tpl.get("Name"), tpl.get("Tag"), tpl.get("BucketId")) == ("node-smoke", "Transcode", bucket), tpl
    assert tpl["TransTpl"]["Video"]["Width"] == "256", tpl
    assert created["requestIdHeader"], created
    assert s["ciListTemplates"]["totalCount"] == "1", s["ciListTemplates"]
    assert s["ciListTemplates"]["templates"] == [
        {"TemplateId": tpl["TemplateId"], "Name": "node-smoke", "Tag": "Transcode"}
    ]
    assert s["ciListWorkflows"] == {"statusCode": 200, "totalCount": "0", "hasRequestId": True}, s["ciListWorkflows"]
    err = s["ciMissingExecution"].get("error") or {}
    assert (err.get("statusCode"), err.get("code")) == (404, "ResourceNotFound"), s["ciMissingExecution"]
    body = err.get("body") or {}
    assert all(body.get(k) for k in ("Code", "Message", "Resource", "RequestId")), body
    assert s["ciDeleteTemplate"]["templateId"] == tpl["TemplateId"], s["ciDeleteTemplate"]

    assert s["deleteObject"]["statusCode"] in (200, 204), s["deleteObject"]
    assert (s["headDeletedObject"].get("error") or {}).get("statusCode") == 404, s["headDeletedObject"]
