"""Shared helpers for the black-box e2e suite.

Everything here talks to reelflow only the way a user would: through the official
cos-python-sdk-v5 client, plain HTTP, and the callbacks the server POSTs to our receiver.
"""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import hmac
import json
import re
import subprocess
import time
import uuid
import xml.etree.ElementTree as ET
from fractions import Fraction
from pathlib import Path
from typing import Any, Callable, Iterable

from qcloud_cos import CosS3Client

REGION = "ap-guangzhou"
APPID = "1250000000"

# --- identifier and time shapes (ci-api-reference.md 5.8, decisions.md "IDs" / "Times") ------
RUN_ID = re.compile(r"^i[0-9a-f]{32}$")
JOB_ID = re.compile(r"^j[0-9a-f]{32}$")
WORKFLOW_ID = re.compile(r"^w[0-9a-f]{32}$")
TEMPLATE_ID = re.compile(r"^t[0-9a-f]{33}$")
CALLBACK_TIME = re.compile(r"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\+0800$")
API_TIME = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\+0800$")

# The seed document's element order (shared/seed/000_07612fd62de357a9.txt).
EXECUTION_CHILDREN = [
    "RunId",
    "BucketId",
    "Object",
    "CosHeaders",
    "WorkflowId",
    "WorkflowName",
    "CreateTime",
    "State",
    "Tasks",
]
TASK_CHILDREN = ["Type", "CreateTime", "EndTime", "State", "JobId", "Name", "TemplateId", "TemplateName"]

CALLBACK_TIMEOUT = 60.0


# --- small utilities ------------------------------------------------------------------------
def as_list(value: Any) -> list:
    """xmltodict-style value (absent/None, one dict, or a list) as a list."""
    if value is None:
        return []
    if isinstance(value, list):
        return value
    return [value]


def lower_keys(headers: dict) -> dict:
    """The SDK returns response headers as a plain dict in the server's casing."""
    return {str(k).lower(): v for k, v in headers.items()}


def new_bucket_name(tag: str = "rf") -> str:
    return f"{tag}{uuid.uuid4().hex[:10]}-{APPID}"


def cos_host(bucket: str) -> str:
    """The Host header the SDK sends (and signs) in IP mode (ci-api-reference.md 10.3)."""
    return f"{bucket}.cos.{REGION}.myqcloud.com"


def parse_callback_time(text: str) -> dt.datetime:
    return dt.datetime.strptime(text, "%Y-%m-%d %H:%M:%S%z")


def parse_api_time(text: str) -> dt.datetime:
    return dt.datetime.strptime(text, "%Y-%m-%dT%H:%M:%S%z")


def child_names(elem: ET.Element) -> list[str]:
    return [c.tag for c in elem]


def text_of(elem: ET.Element, name: str) -> str:
    found = elem.find(name)
    assert found is not None, f"<{elem.tag}> has no <{name}>: {ET.tostring(elem, encoding='unicode')}"
    return (found.text or "").strip()


def media_type(content_type: str | None) -> str:
    return (content_type or "").split(";")[0].strip().lower()


# --- buckets and objects --------------------------------------------------------------------
def create_bucket(client: CosS3Client, tag: str = "rf") -> str:
    bucket = new_bucket_name(tag)
    client.create_bucket(Bucket=bucket)
    return bucket


def upload(client: CosS3Client, bucket: str, key: str, body: bytes, **kwargs) -> dict:
    return client.put_object(Bucket=bucket, Body=body, Key=key, **kwargs)


def download(client: CosS3Client, bucket: str, key: str, dest: Path) -> Path:
    resp = client.get_object(Bucket=bucket, Key=key)
    dest.parent.mkdir(parents=True, exist_ok=True)
    resp["Body"].get_stream_to_file(str(dest))
    return dest


def list_keys(client: CosS3Client, bucket: str, prefix: str = "") -> list[str]:
    keys: list[str] = []
    marker = ""
    for _ in range(100):
        resp = client.list_objects(Bucket=bucket, Prefix=prefix, Marker=marker, MaxKeys=1000)
        page = [c["Key"] for c in as_list(resp.get("Contents"))]
        keys.extend(page)
        if resp.get("IsTruncated") != "true":
            return keys
        marker = resp.get("NextMarker") or page[-1]
    raise AssertionError("list_objects did not terminate after 100 pages")


# --- templates and workflows ----------------------------------------------------------------
def create_transcode_template(client: CosS3Client, bucket: str, name: str, width: int, height: int) -> str:
    resp = client.ci_create_template(
        Bucket=bucket,
        Template={
            "Tag": "Transcode",
            "Name": name,
            "Container": {"Format": "mp4"},
            "Video": {"Codec": "H.264", "Width": str(width), "Height": str(height), "Fps": "15", "Crf": "30"},
            "Audio": {"Codec": "aac", "Samplerate": "44100", "Bitrate": "64", "Channels": "2"},
        },
    )
    tpl = resp["Template"]
    tid = tpl["TemplateId"]
    assert TEMPLATE_ID.match(tid), f"TemplateId {tid!r} is not t + 33 hex"
    assert tpl.get("Name") == name, f"template Name echoed as {tpl.get('Name')!r}, want {name!r}"
    return tid


def create_snapshot_template(client: CosS3Client, bucket: str, name: str, count: int = 2, width: int = 160) -> str:
    resp = client.ci_create_template(
        Bucket=bucket,
        Template={
            "Tag": "Snapshot",
            "Name": name,
            "Snapshot": {"Mode": "Interval", "Start": "0", "TimeInterval": "1", "Count": str(count), "Width": str(width)},
        },
    )
    tid = resp["Template"]["TemplateId"]
    assert TEMPLATE_ID.match(tid), f"TemplateId {tid!r} is not t + 33 hex"
    return tid


def transcode_node(template_id: str, bucket: str, obj: str) -> dict:
    return {
        "Type": "Transcode",
        "Operation": {
            "TemplateId": template_id,
            "Output": {"Region": REGION, "Bucket": bucket, "Object": obj},
        },
    }


def snapshot_node(template_id: str, bucket: str, obj: str) -> dict:
    return {
        "Type": "Snapshot",
        "Operation": {
            "TemplateId": template_id,
            "Output": {"Region": REGION, "Bucket": bucket, "Object": obj},
        },
    }


def workflow_body(
    name: str,
    nodes: dict[str, dict],
    *,
    notify_url: str | None,
    prefix: str = "input/",
    state: str = "Active",
    result_format: str = "XML",
    ext_filter: dict | None = None,
    dependencies: dict[str, str] | None = None,
) -> dict:
    """A MediaWorkflow body in the shape of the SDK demos. Without `dependencies`, every node
    follows Start and is followed by End (fan-out, like the seed example)."""
    if dependencies is None:
        dependencies = {"Start": ",".join(nodes)}
        dependencies.update({n: "End" for n in nodes})
    start_input: dict[str, Any] = {"ObjectPrefix": prefix}
    if notify_url is not None:
        start_input["NotifyConfig"] = {
            "Url": notify_url,
            "Type": "Url",
            "Event": "WorkflowFinish",
            "ResultFormat": result_format,
            "State": "On",
        }
    start_input["ExtFilter"] = ext_filter if ext_filter is not None else {"State": "On", "Video": "true"}
    all_nodes = {"Start": {"Type": "Start", "Input": start_input}}
    all_nodes.update(nodes)
    return {
        "MediaWorkflow": {
            "Name": name,
            "State": state,
            "Topology": {"Dependencies": dependencies, "Nodes": all_nodes},
        }
    }


def create_workflow(client: CosS3Client, bucket: str, body: dict) -> str:
    resp = client.ci_create_workflow(Bucket=bucket, Body=body, ContentType="application/xml")
    wf = resp["MediaWorkflow"]
    wid = wf["WorkflowId"]
    assert WORKFLOW_ID.match(wid), f"WorkflowId {wid!r} is not w + 32 hex"
    assert wf.get("Name") == body["MediaWorkflow"]["Name"]
    assert wf.get("State") == body["MediaWorkflow"]["State"], f"created workflow State {wf.get('State')!r}"
    return wid


def list_executions(client: CosS3Client, bucket: str, workflow_id: str, **kwargs) -> list[dict]:
    resp = client.ci_list_workflowexecution(Bucket=bucket, WorkflowId=workflow_id, **kwargs)
    return as_list(resp.get("WorkflowExecutionList"))


def get_execution(client: CosS3Client, bucket: str, run_id: str) -> dict:
    resp = client.ci_get_workflowexecution(Bucket=bucket, RunId=run_id)
    executions = as_list(resp.get("WorkflowExecution"))
    assert len(executions) == 1, f"GET /workflowexecution/{run_id} returned {len(executions)} executions: {resp}"
    return executions[0]


# --- callbacks ------------------------------------------------------------------------------
def callback_execution(delivery) -> ET.Element:
    """Parses an XML WorkflowFinish body and returns its <WorkflowExecution>, checking the
    envelope (root <Response> with exactly one child <WorkflowExecution>)."""
    root = ET.fromstring(delivery.body)
    assert root.tag == "Response", f"callback root is <{root.tag}>, want <Response>"
    assert child_names(root) == ["WorkflowExecution"], f"<Response> children: {child_names(root)}"
    return root[0]


def callback_object(delivery) -> str | None:
    """The Object of a callback, XML or JSON, or None when the body is not a callback."""
    try:
        if media_type(delivery.header("content-type")) == "application/json":
            doc = json.loads(delivery.body)
            # tolerate an extra "Response" root here so the shape tests report it precisely
            return doc.get("Response", doc)["WorkflowExecution"]["Object"]
        return text_of(callback_execution(delivery), "Object")
    except Exception:  # noqa: BLE001 - any unparsable body simply does not match
        return None


def assert_task_shape(task: ET.Element) -> None:
    assert child_names(task) == TASK_CHILDREN, f"<Tasks> children {child_names(task)}, want {TASK_CHILDREN}"
    assert JOB_ID.match(text_of(task, "JobId")), f"JobId {text_of(task, 'JobId')!r}"
    assert CALLBACK_TIME.match(text_of(task, "CreateTime")), f"task CreateTime {text_of(task, 'CreateTime')!r}"
    assert CALLBACK_TIME.match(text_of(task, "EndTime")), f"task EndTime {text_of(task, 'EndTime')!r}"
    assert parse_callback_time(text_of(task, "CreateTime")) <= parse_callback_time(text_of(task, "EndTime"))


def expected_children(with_cos_headers: int, tasks: int) -> list[str]:
    names = ["RunId", "BucketId", "Object"]
    names += ["CosHeaders"] * with_cos_headers
    names += ["WorkflowId", "WorkflowName", "CreateTime", "State"]
    names += ["Tasks"] * tasks
    return names


def webhook_signature_ok(delivery, secret: str) -> bool:
    """Standard Webhooks: `webhook-signature` holds space-separated `v1,<base64>` entries, each an
    HMAC-SHA256 keyed by the base64 part of `whsec_<base64>` over `<id>.<timestamp>.<raw body>`."""
    key = base64.b64decode(secret.removeprefix("whsec_"))
    msg_id, ts = delivery.header("webhook-id") or "", delivery.header("webhook-timestamp") or ""
    signed = msg_id.encode() + b"." + ts.encode() + b"." + delivery.body
    want = base64.b64encode(hmac.new(key, signed, hashlib.sha256).digest()).decode()
    for entry in (delivery.header("webhook-signature") or "").split():
        version, _, sig = entry.partition(",")
        if version == "v1" and hmac.compare_digest(sig, want):
            return True
    return False


# --- ffmpeg ---------------------------------------------------------------------------------
def ffprobe(path: Path | str) -> dict:
    out = subprocess.run(
        ["ffprobe", "-v", "error", "-print_format", "json", "-show_format", "-show_streams", str(path)],
        check=True,
        capture_output=True,
        timeout=30,
    )
    return json.loads(out.stdout)


def streams(probe: dict, kind: str) -> list[dict]:
    return [s for s in probe.get("streams", []) if s.get("codec_type") == kind]


def frame_rate(stream: dict) -> float:
    text = stream.get("avg_frame_rate") or stream.get("r_frame_rate") or "0/1"
    num, _, den = text.partition("/")
    return float(Fraction(int(num), int(den or 1))) if int(den or 1) else 0.0


# --- waiting --------------------------------------------------------------------------------
def eventually(check: Callable[[], Any], timeout: float, interval: float = 0.25, what: str = "condition") -> Any:
    """Calls `check` until it returns a truthy value or `timeout` passes."""
    deadline = time.monotonic() + timeout
    last: Any = None
    while True:
        last = check()
        if last:
            return last
        if time.monotonic() >= deadline:
            raise AssertionError(f"timed out after {timeout:.0f}s waiting for {what}; last value: {last!r}")
        time.sleep(interval)


# --- raw (non-SDK) signed requests ----------------------------------------------------------
def signed_headers(
    client: CosS3Client,
    method: str,
    bucket: str,
    path: str,
    params: dict | None = None,
    expired: int = 300,
) -> dict:
    """Host + Authorization for a hand-built request, signed by the SDK's own `get_auth`.

    The signature covers `host` (the virtual COS host name, as the SDK signs it in IP mode),
    the given query parameters and the *decoded* path exactly as passed."""
    host = cos_host(bucket)
    auth = client.get_auth(
        Method=method,
        Bucket=bucket,
        Key=path,
        Expired=expired,
        Headers={"Host": host},
        Params=params or {},
    )
    return {"Host": host, "Authorization": auth}


def error_fields(body: bytes) -> dict[str, str]:
    root = ET.fromstring(body)
    assert root.tag == "Error", f"error body root is <{root.tag}>: {body[:300]!r}"
    return {c.tag: (c.text or "").strip() for c in root}


def assert_full_error(
    resp,
    status: int,
    code: str | Iterable[str] | None = None,
    request_id_headers: tuple[str, ...] = ("x-ci-request-id",),
) -> dict[str, str]:
    """Checks a raw `requests` response against decisions.md "Errors": all four fields present
    and non-empty, and the request-id header equal to <RequestId>. CI paths answer with
    x-ci-request-id; for COS object paths pass ("x-ci-request-id", "x-cos-request-id")."""
    assert resp.status_code == status, f"status {resp.status_code}, want {status}; body {resp.content[:500]!r}"
    fields = error_fields(resp.content)
    for name in ("Code", "Message", "Resource", "RequestId"):
        assert fields.get(name), f"<Error> has empty or missing <{name}>: {fields}"
    if code is not None:
        allowed = {code} if isinstance(code, str) else set(code)
        assert fields["Code"] in allowed, f"error Code {fields['Code']!r}, want one of {sorted(allowed)}"
    present = {h: resp.headers.get(h) for h in request_id_headers if resp.headers.get(h)}
    assert present, f"none of {request_id_headers} in response headers {dict(resp.headers)}"
    for header, rid in present.items():
        assert rid == fields["RequestId"], f"{header} {rid!r} != <RequestId> {fields['RequestId']!r}"
    return fields
