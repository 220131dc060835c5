"""Helpers for test_sdk_compat.py, the cos-python-sdk-v5 compatibility suite (issue #3).

Everything here drives reelflow through the official SDK methods of ci-api-reference.md §10.1
(and plain HTTP only where the SDK hides something, e.g. the raw <Error> body)."""

from __future__ import annotations

import datetime as dt
import re
import shutil
import subprocess
import xml.etree.ElementTree as ET
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Iterator

import pytest
from qcloud_cos import CosS3Client
from qcloud_cos.cos_exception import CosServiceError

import reelflow_e2e as rf

# --- identifier shapes (ci-api-reference.md 5.8, decisions.md "IDs") ---------------------------
QUEUE_ID = re.compile(r"^p[0-9a-f]{32}$")
CUSTOM_TEMPLATE_ID = re.compile(r"^t1[0-9a-f]{32}$")
OFFICIAL_TEMPLATE_ID = re.compile(r"^t0[0-9a-f]{32}$")

UNKNOWN_RUN = "i" + "0" * 32
UNKNOWN_JOB = "j" + "0" * 32
UNKNOWN_WORKFLOW = "w" + "0" * 32
UNKNOWN_QUEUE = "p" + "0" * 32
UNKNOWN_TEMPLATE = "t1" + "0" * 32

JOB_STATES = {"Submitted", "Running", "Success", "Failed", "Pause", "Cancel"}
JOB_FINAL = {"Success", "Failed", "Cancel"}
RUN_FINAL = {"Success", "Failed", "Cancel"}

JOB_TIMEOUT = 60.0
TZ = dt.timezone(dt.timedelta(hours=8))  # conftest sets REELFLOW_TIMEZONE=+08:00


# --- times ------------------------------------------------------------------------------------
def ci_time(when: dt.datetime) -> str:
    """A list filter value (`startCreationTime`/`endCreationTime`): `%Y-%m-%dT%H:%M:%S%z`."""
    return when.astimezone(TZ).strftime("%Y-%m-%dT%H:%M:%S%z")


def now(offset_seconds: float = 0.0) -> dt.datetime:
    return dt.datetime.now(TZ) + dt.timedelta(seconds=offset_seconds)


# --- errors -----------------------------------------------------------------------------------
@dataclass
class CiError:
    status: int
    code: str
    message: str
    resource: str
    request_id: str
    exc: CosServiceError

    def __str__(self) -> str:
        return f"HTTP {self.status} {self.code}: {self.message} (Resource {self.resource!r}, RequestId {self.request_id!r})"


def error_body_fields(exc: CosServiceError) -> dict[str, str]:
    """The <Error> fields as the server sent them. The SDK keeps the raw body in
    `get_origin_msg()`; when the server also sends `x-cos-error-code` the SDK instead puts the
    raw body into the digest's `message` (cos_client.send_request), so look there too."""
    candidates = [exc.get_origin_msg()]
    digest = exc.get_digest_msg()
    if isinstance(digest, dict):
        candidates.append(digest.get("message"))
    for raw in candidates:
        if not raw or not isinstance(raw, (str, bytes)):
            continue
        text = raw.decode() if isinstance(raw, bytes) else raw
        if "<Error" not in text:
            continue
        root = ET.fromstring(text.encode())
        if root.tag == "Error":
            return {c.tag: (c.text or "").strip() for c in root}
    return {}


def ci_error_of(exc: CosServiceError) -> CiError:
    fields = error_body_fields(exc)
    return CiError(
        status=exc.get_status_code(),
        code=exc.get_error_code(),
        message=fields.get("Message", ""),
        resource=fields.get("Resource", ""),
        request_id=exc.get_request_id() if isinstance(exc.get_digest_msg(), dict) else "",
        exc=exc,
    )


def assert_clean_ci_error(
    exc: CosServiceError, status: int | tuple[int, ...] | None = None, codes: str | set[str] | None = None
) -> CiError:
    """A CI <Error> the SDK can read: a code other than 'Unknown', a request id, and an <Error>
    body with non-empty Code, Message, Resource and RequestId (ci-api-reference.md §9)."""
    err = ci_error_of(exc)
    body = error_body_fields(exc)
    detail = f"status {exc.get_status_code()}, digest {exc.get_digest_msg()!r}"
    assert err.code and err.code != "Unknown", f"SDK could not read an error code: {detail}"
    assert err.request_id and err.request_id != "Unknown", f"SDK could not read a request id: {detail}"
    for name in ("Code", "Message", "Resource", "RequestId"):
        assert body.get(name), f"<Error> has an empty or missing <{name}>: {body or detail}"
    assert body["Code"] == err.code, f"<Code> {body['Code']!r} != SDK code {err.code!r}"
    assert (
        body["RequestId"] == err.request_id
    ), f"<RequestId> {body['RequestId']!r} != SDK request id {err.request_id!r}"
    if status is not None:
        allowed = (status,) if isinstance(status, int) else status
        assert err.status in allowed, f"HTTP status {err.status}, want {allowed}: {err}"
    if codes is not None:
        allowed_codes = {codes} if isinstance(codes, str) else set(codes)
        assert err.code in allowed_codes, f"error code {err.code!r}, want one of {sorted(allowed_codes)}: {err}"
    return err


@contextmanager
def ci_error(
    status: int | tuple[int, ...] | None = None, codes: str | set[str] | None = None, what: str = "the call"
) -> Iterator[list[CiError]]:
    """`with ci_error(404, 'ResourceNotFound') as got: client.ci_...()`; got[0] is the CiError."""
    got: list[CiError] = []
    try:
        yield got
    except CosServiceError as exc:
        got.append(assert_clean_ci_error(exc, status, codes))
        return
    except AssertionError:
        raise
    except Exception as exc:  # noqa: BLE001 - e.g. the SDK failing to parse a 2xx body
        raise AssertionError(f"{what}: want a CosServiceError (HTTP {status} {codes}), the SDK raised {exc!r}") from exc
    raise AssertionError(f"{what} succeeded; want a CosServiceError (HTTP {status} {codes})")


def call_ci(fn: Callable[[], Any]) -> tuple[Any, CiError | None]:
    """(result, None) or (None, CiError) for an SDK call."""
    try:
        return fn(), None
    except CosServiceError as exc:
        return None, ci_error_of(exc)


# --- comparing echoed parameters ----------------------------------------------------------------
def mismatches(sent: Any, got: Any, path: str = "") -> list[str]:
    """Every leaf of `sent` (dicts, lists, strings) must come back with the same text in `got`
    (an xml_to_dict tree, where one repeated element is a dict and several are a list)."""
    out: list[str] = []
    if isinstance(sent, dict):
        if not isinstance(got, dict):
            return [f"{path or '.'}: want an element with children {sorted(sent)}, got {got!r}"]
        for k, v in sent.items():
            if k not in got:
                out.append(f"{path}.{k}: missing (have {sorted(got)})")
            else:
                out.extend(mismatches(v, got[k], f"{path}.{k}"))
    elif isinstance(sent, list):
        got_list = rf.as_list(got)
        if len(got_list) != len(sent):
            return [f"{path}: {len(sent)} elements sent, {len(got_list)} echoed: {got!r}"]
        for i, (s, g) in enumerate(zip(sent, got_list)):
            out.extend(mismatches(s, g, f"{path}[{i}]"))
    else:
        if str(sent) != (got if got is not None else ""):
            out.append(f"{path}: sent {sent!r}, echoed {got!r}")
    return out


def assert_echo(sent: Any, got: Any, where: str) -> None:
    problems = mismatches(sent, got)
    assert not problems, f"{where} does not echo the request:\n  " + "\n  ".join(problems) + f"\nechoed: {got!r}"


# --- templates ------------------------------------------------------------------------------------
@dataclass
class TemplateCase:
    """One template Tag: how to create and update it and where the response echoes it."""

    tag: str
    container: str  # element of the response `Template` holding the parameters
    create: Callable[[str], dict]  # bucket -> the tag-specific part of the request
    update: Callable[[str], dict]

    def request(self, bucket: str, name: str, which: str = "create") -> dict:
        body = (self.create if which == "create" else self.update)(bucket)
        return {"Tag": self.tag, "Name": name, **body}

    def params(self, request: dict) -> dict:
        """What the response's `Template > <container>` must echo of a request: the top-level
        Container/Video/Audio/… for `TransTpl` tags (sent unwrapped, as the SDK demos do), else
        the tag's own container element."""
        if self.container == "TransTpl":
            return {k: v for k, v in request.items() if k not in ("Tag", "Name")}
        return request[self.container]


def _fragment_url(bucket: str, key: str) -> str:
    return f"http://{bucket}.cos.{rf.REGION}.myqcloud.com/{key}"


TEMPLATE_CASES: list[TemplateCase] = [
    TemplateCase(
        "Transcode",
        "TransTpl",
        lambda b: {
            "Container": {"Format": "mp4"},
            "Video": {
                "Codec": "H.264",
                "Width": "320",
                "Height": "240",
                "Fps": "15",
                "Crf": "28",
                "Profile": "high",
                "Preset": "veryfast",
            },
            "Audio": {"Codec": "aac", "Samplerate": "44100", "Bitrate": "64", "Channels": "2"},
            "TimeInterval": {"Start": "0", "Duration": "1"},
            "TransConfig": {"AdjDarMethod": "scale"},
        },
        lambda b: {
            "Container": {"Format": "mkv"},
            "Video": {"Codec": "H.264", "Width": "256", "Height": "144", "Crf": "30"},
            "Audio": {"Codec": "aac", "Bitrate": "96"},
        },
    ),
    TemplateCase(
        "HighSpeedHd",
        "TransTpl",
        lambda b: {
            "Container": {"Format": "mp4"},
            "Video": {"Codec": "H.264", "Width": "640", "Height": "360", "Fps": "25"},
            "Audio": {"Codec": "aac", "Samplerate": "44100", "Bitrate": "128", "Channels": "2"},
        },
        lambda b: {
            "Container": {"Format": "flv"},
            "Video": {"Codec": "H.264", "Height": "480"},
            "Audio": {"Codec": "aac", "Bitrate": "96"},
        },
    ),
    TemplateCase(
        "Snapshot",
        "Snapshot",
        lambda b: {
            "Snapshot": {
                "Mode": "Interval",
                "Start": "0",
                "TimeInterval": "1",
                "Count": "3",
                "Width": "160",
                "Height": "128",
            }
        },
        lambda b: {"Snapshot": {"Mode": "Average", "Count": "5", "Width": "320"}},
    ),
    TemplateCase(
        "Animation",
        "TransTpl",
        lambda b: {
            "Container": {"Format": "gif"},
            "Video": {"Codec": "gif", "Width": "160", "Fps": "10", "AnimateOnlyKeepKeyFrame": "false"},
            "TimeInterval": {"Start": "0", "Duration": "2"},
        },
        lambda b: {
            "Container": {"Format": "webp"},
            "Video": {"Codec": "webp", "Width": "320", "Quality": "80"},
            "TimeInterval": {"Start": "1", "Duration": "1"},
        },
    ),
    TemplateCase(
        "Concat",
        "ConcatTemplate",
        lambda b: {
            "ConcatTemplate": {
                "ConcatFragment": [
                    {"Url": _fragment_url(b, "frag/head.mp4"), "Mode": "Start"},
                    {"Url": _fragment_url(b, "frag/tail.mp4"), "Mode": "End"},
                ],
                "Audio": {"Codec": "aac", "Samplerate": "44100", "Bitrate": "64", "Channels": "2"},
                "Video": {"Codec": "H.264", "Width": "320", "Height": "240", "Fps": "25", "Crf": "26"},
                "Container": {"Format": "mp4"},
            }
        },
        lambda b: {
            "ConcatTemplate": {
                "ConcatFragment": [{"Url": _fragment_url(b, "frag/only.mp4"), "Mode": "End"}],
                "Audio": {"Codec": "mp3", "Bitrate": "128"},
                "Video": {"Codec": "H.264", "Width": "256", "Height": "144"},
                "Container": {"Format": "flv"},
            }
        },
    ),
    TemplateCase(
        "SmartCover",
        "SmartCover",
        lambda b: {
            "SmartCover": {"Format": "jpg", "Width": "320", "Height": "240", "Count": "3", "DeleteDuplicates": "false"}
        },
        lambda b: {"SmartCover": {"Format": "png", "Width": "160", "Count": "5", "DeleteDuplicates": "true"}},
    ),
    TemplateCase(
        "Watermark",
        "Watermark",
        lambda b: {
            "Watermark": {
                "Type": "Text",
                "Pos": "TopRight",
                "LocMode": "Absolute",
                "Dx": "10",
                "Dy": "10",
                "Text": {
                    "Text": "reelflow",
                    "FontSize": "24",
                    "FontType": "arial.ttf",
                    "FontColor": "0xFF0000",
                    "Transparency": "80",
                },
            }
        },
        lambda b: {
            "Watermark": {
                "Type": "Text",
                "Pos": "BottomLeft",
                "LocMode": "Relativity",
                "Dx": "5",
                "Dy": "5",
                "Text": {"Text": "updated", "FontSize": "16", "FontColor": "0x00FF00", "Transparency": "50"},
            }
        },
    ),
    TemplateCase(
        "PicProcess",
        "PicProcess",
        lambda b: {"PicProcess": {"IsPicInfo": "true", "ProcessRule": "imageMogr2/thumbnail/160x/format/png"}},
        lambda b: {"PicProcess": {"IsPicInfo": "false", "ProcessRule": "imageMogr2/rotate/90"}},
    ),
]

TEMPLATE_TAGS = [c.tag for c in TEMPLATE_CASES]


def templates_of(resp: dict) -> list[dict]:
    return rf.as_list(resp.get("TemplateList"))


def assert_template_shape(tpl: dict, bucket: str, tag: str, name: str, category: str = "Custom") -> None:
    tid = tpl.get("TemplateId") or ""
    pattern = CUSTOM_TEMPLATE_ID if category == "Custom" else OFFICIAL_TEMPLATE_ID
    assert pattern.match(tid), f"TemplateId {tid!r} does not match {pattern.pattern}"
    assert tpl.get("Name") == name, f"Name {tpl.get('Name')!r}, want {name!r}"
    assert tpl.get("Tag") == tag, f"Tag {tpl.get('Tag')!r}, want {tag!r}"
    assert tpl.get("Category") == category, f"Category {tpl.get('Category')!r}, want {category!r}"
    if category == "Custom":
        assert tpl.get("BucketId") == bucket, f"BucketId {tpl.get('BucketId')!r}, want {bucket!r}"
    for t in ("CreateTime", "UpdateTime"):
        assert rf.API_TIME.match(tpl.get(t) or ""), f"{t} {tpl.get(t)!r} is not YYYY-MM-DDTHH:MM:SS+0800"


# --- workflows ------------------------------------------------------------------------------------
def workflows_of(resp: dict) -> list[dict]:
    return rf.as_list(resp.get("MediaWorkflowList"))


def transcode_template(client: CosS3Client, bucket: str, name: str = "compat-256x144") -> str:
    return rf.create_transcode_template(client, bucket, name, 256, 144)


def one_node_workflow(
    client: CosS3Client,
    bucket: str,
    name: str,
    template_id: str,
    *,
    state: str = "Paused",
    notify_url: str | None = None,
    event: str = "WorkflowFinish",
    prefix: str = "input/",
) -> str:
    body = rf.workflow_body(
        name,
        {"Transcode_1": rf.transcode_node(template_id, bucket, "out/${RunId}/${InputName}.${Ext}")},
        notify_url=notify_url,
        state=state,
        prefix=prefix,
    )
    if notify_url is not None:
        body["MediaWorkflow"]["Topology"]["Nodes"]["Start"]["Input"]["NotifyConfig"]["Event"] = event
    return rf.create_workflow(client, bucket, body)


def wait_execution(client: CosS3Client, bucket: str, run_id: str, timeout: float = JOB_TIMEOUT) -> dict:
    def done():
        ex = rf.get_execution(client, bucket, run_id)
        return ex if ex.get("State") in RUN_FINAL else None

    return rf.eventually(done, timeout, interval=0.3, what=f"execution {run_id} to finish")


def list_executions_paged(client: CosS3Client, bucket: str, workflow_id: str, size: int, **kwargs) -> list[list[dict]]:
    """Every page of ci_list_workflowexecution, following NextToken until it is empty."""
    pages: list[list[dict]] = []
    token = ""
    for _ in range(50):
        resp = client.ci_list_workflowexecution(
            Bucket=bucket, WorkflowId=workflow_id, Size=size, NextToken=token, **kwargs
        )
        page = rf.as_list(resp.get("WorkflowExecutionList"))
        assert len(page) <= size, f"page of {len(page)} executions for Size={size}: {resp}"
        pages.append(page)
        token = resp.get("NextToken") or ""
        if not token:
            return pages
        assert page, f"an empty page with NextToken {token!r}: {resp}"
    raise AssertionError("ci_list_workflowexecution paging did not end after 50 pages")


# --- jobs -------------------------------------------------------------------------------------------
def output(bucket: str, key: str) -> dict:
    return {"Region": rf.REGION, "Bucket": bucket, "Object": key}


INLINE_TRANSCODE = {
    "Container": {"Format": "mp4"},
    "Video": {"Codec": "H.264", "Width": "256", "Height": "144", "Fps": "15", "Crf": "30", "Preset": "veryfast"},
    "Audio": {"Codec": "aac", "Samplerate": "44100", "Bitrate": "64", "Channels": "2"},
}


def transcode_job(bucket: str, src: str, dst: str, **extra) -> dict:
    return {
        "Tag": "Transcode",
        "Input": {"Object": src},
        "Operation": {"Transcode": INLINE_TRANSCODE, "Output": output(bucket, dst)},
        **extra,
    }


def submit(client: CosS3Client, bucket: str, request: dict) -> dict:
    """ci_create_media_jobs with one job; returns its JobsDetail (checked for the basic shape)."""
    resp = client.ci_create_media_jobs(Bucket=bucket, Jobs=request)
    details = resp.get("JobsDetail")
    assert isinstance(details, list) and len(details) == 1, f"JobsDetail of one submitted job: {resp}"
    job = details[0]
    assert rf.JOB_ID.match(job.get("JobId") or ""), f"JobId {job.get('JobId')!r} is not j + 32 hex: {job}"
    return job


def get_jobs(client: CosS3Client, bucket: str, *ids: str) -> tuple[list[dict], list[str]]:
    resp = client.ci_get_media_jobs(Bucket=bucket, JobIDs=",".join(ids))
    missing = resp.get("NonExistJobIds")
    missing_list = [m for v in rf.as_list(missing) for m in str(v).split(",") if m]
    return rf.as_list(resp.get("JobsDetail")), missing_list


def get_job(client: CosS3Client, bucket: str, job_id: str) -> dict:
    jobs, missing = get_jobs(client, bucket, job_id)
    assert [j.get("JobId") for j in jobs] == [job_id], f"GET /jobs/{job_id}: {jobs}, NonExistJobIds {missing}"
    return jobs[0]


def wait_job(
    client: CosS3Client, bucket: str, job_id: str, states: set[str] = JOB_FINAL, timeout: float = JOB_TIMEOUT
) -> dict:
    seen: list[str] = []

    def reached():
        job = get_job(client, bucket, job_id)
        state = job.get("State")
        assert state in JOB_STATES, f"job State {state!r} is not one of {sorted(JOB_STATES)}"
        if not seen or seen[-1] != state:
            seen.append(state)
        return job if state in states else None

    try:
        return rf.eventually(reached, timeout, interval=0.3, what=f"job {job_id} to reach {sorted(states)}")
    except AssertionError as e:
        raise AssertionError(f"{e}; states seen: {seen}") from None


def list_jobs_paged(client: CosS3Client, bucket: str, tag: str, size: int, **kwargs) -> list[list[dict]]:
    pages: list[list[dict]] = []
    token = ""
    for _ in range(50):
        resp = client.ci_list_media_jobs(Bucket=bucket, Tag=tag, Size=size, NextToken=token, **kwargs)
        page = rf.as_list(resp.get("JobsDetail"))
        assert len(page) <= size, f"page of {len(page)} jobs for Size={size}: {resp}"
        pages.append(page)
        token = resp.get("NextToken") or ""
        if not token:
            return pages
        assert page, f"an empty page with NextToken {token!r}: {resp}"
    raise AssertionError("ci_list_media_jobs paging did not end after 50 pages")


def listed_job_ids(client: CosS3Client, bucket: str, tag: str, **kwargs) -> list[str]:
    resp = client.ci_list_media_jobs(Bucket=bucket, Tag=tag, Size=100, **kwargs)
    return [j.get("JobId") for j in rf.as_list(resp.get("JobsDetail"))]


# --- queues -------------------------------------------------------------------------------------------
def queues_of(resp: dict) -> list[dict]:
    return rf.as_list(resp.get("QueueList"))


def default_queue(client: CosS3Client, bucket: str) -> dict:
    resp = client.ci_get_media_queue(Bucket=bucket)
    queues = queues_of(resp)
    assert len(queues) == 1, f"want exactly one (default) queue per bucket, got {len(queues)}: {resp}"
    return queues[0]


def updated_queue(resp: dict) -> dict:
    """`Queue` of ci_update_media_queue (the SDK forces it into a list)."""
    queue = resp.get("Queue")
    items = rf.as_list(queue)
    assert len(items) == 1, f"ci_update_media_queue response has {len(items)} Queue elements: {resp}"
    return items[0]


# --- callbacks ------------------------------------------------------------------------------------------
def xml_root(delivery) -> ET.Element:
    root = ET.fromstring(delivery.body)
    assert root.tag == "Response", f"callback root <{root.tag}>, want <Response>: {delivery.body[:300]!r}"
    return root


def is_task_finish(delivery) -> bool:
    try:
        return xml_root(delivery).find("JobsDetail") is not None
    except Exception:  # noqa: BLE001
        return False


def is_workflow_finish(delivery) -> bool:
    try:
        return xml_root(delivery).find("WorkflowExecution") is not None
    except Exception:  # noqa: BLE001
        return False


# --- media ----------------------------------------------------------------------------------------------
def make_long_video(dest: Path, seconds: int = 60) -> Path:
    """A long lavfi clip (320x240, no audio, fast to make) for jobs that must still be running
    when the test acts on them."""
    ffmpeg = shutil.which("ffmpeg")
    if ffmpeg is None:
        pytest.fail("ffmpeg not found; run scripts/setup.sh", pytrace=False)
    cmd = [
        ffmpeg, "-hide_banner", "-loglevel", "error", "-nostdin", "-y",
        "-f", "lavfi", "-i", "testsrc2=size=320x240:rate=25",
        "-t", str(seconds),
        "-c:v", "libx264", "-preset", "ultrafast", "-pix_fmt", "yuv420p",
        str(dest),
    ]  # fmt: skip
    subprocess.run(cmd, check=True, timeout=120)
    return dest
