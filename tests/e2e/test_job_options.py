"""Job options the official SDK demos send (api-reference-2.md §6), each submitted through
cos-python-sdk-v5's `ci_create_media_jobs` against the real server, with real ffmpeg:

MediaInfo without Operation · Input.Url (fetched from an HTTP server on 127.0.0.1 through the SSRF
guard; refused when loopback is not allowed; a COS URL of this server read in place) · inline
Watermark and RemoveWatermark · WatermarkTemplateId over inline Watermark · TemplateId over inline
Transcode · Concat with only ConcatFragment inputs · FreeTranscode, JobLevel, UserData · CallBack=no ·
refused options as clean InvalidArgument / NotImplemented errors."""

from __future__ import annotations

import shutil
import subprocess
import threading
import time
from functools import partial
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Iterator

import pytest

import compat_support as cs
import reelflow_e2e as rf
from compat_support import ci_error

QUIET = 2.5  # seconds to wait before concluding that something did not happen


class Origin:
    """A static HTTP server on 127.0.0.1 serving `root`, recording the paths asked for."""

    def __init__(self, root: Path) -> None:
        self.paths: list[str] = []
        origin = self

        class Handler(SimpleHTTPRequestHandler):
            def do_GET(self) -> None:  # noqa: N802 - http.server naming
                origin.paths.append(self.path)
                super().do_GET()

            def log_message(self, *args) -> None:
                pass

        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), partial(Handler, directory=str(root)))
        self._httpd.daemon_threads = True
        self.port = self._httpd.server_address[1]
        threading.Thread(target=self._httpd.serve_forever, name="origin", daemon=True).start()

    def url(self, name: str, host: str = "127.0.0.1") -> str:
        return f"http://{host}:{self.port}/{name}"

    def close(self) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()


@pytest.fixture(scope="module")
def origin(media) -> Iterator[Origin]:
    root = media.dir / "origin"
    root.mkdir(exist_ok=True)
    shutil.copy(media.video, root / "clip.mp4")
    o = Origin(root)
    yield o
    o.close()


@pytest.fixture
def source(client, bucket, media) -> str:
    key = "src/in.mp4"
    rf.upload(client, bucket, key, media.video_bytes())
    return key


@pytest.fixture(scope="module")
def logo_png(tmp_path_factory) -> bytes:
    path = tmp_path_factory.mktemp("logo") / "logo.png"
    cmd = ["ffmpeg", "-v", "error", "-y", "-f", "lavfi", "-i", "color=c=red:size=32x32", "-frames:v", "1", str(path)]
    subprocess.run(cmd, check=True, timeout=30)
    return path.read_bytes()


def submit(client, bucket: str, request: dict) -> dict:
    """ci_create_media_jobs as the demos call it (ContentType application/xml)."""
    resp = client.ci_create_media_jobs(Bucket=bucket, Jobs=request, Lst={}, ContentType="application/xml")
    details = rf.as_list(resp.get("JobsDetail"))
    assert len(details) == 1 and rf.JOB_ID.match(details[0].get("JobId") or ""), resp
    return details[0]


def run(client, bucket: str, request: dict) -> tuple[dict, dict]:
    """Submits and waits: (submitted JobsDetail, final JobsDetail)."""
    job = submit(client, bucket, request)
    return job, cs.wait_job(client, bucket, job["JobId"])


def succeeded(final: dict) -> None:
    assert final["State"] == "Success", f"{final.get('Code')}: {final.get('Message')}"


def probe_output(client, bucket: str, key: str, tmp_path: Path) -> dict:
    return rf.ffprobe(rf.download(client, bucket, key, tmp_path / key.replace("/", "_")))


def video_width(probe: dict) -> int:
    return rf.streams(probe, "video")[0]["width"]


INLINE = cs.INLINE_TRANSCODE


# --- MediaInfo without Operation -------------------------------------------------------------------
def test_media_info_job_without_operation(client, bucket, source):
    job, final = run(client, bucket, {"Input": {"Object": source}, "Tag": "MediaInfo"})
    assert cs.QUEUE_ID.match(job.get("QueueId") or ""), "no QueueId sent: the bucket's default queue"
    succeeded(final)
    info = final["Operation"]["MediaInfo"]
    assert abs(float(info["Format"]["Duration"]) - 2.0) < 0.2, info
    video = rf.as_list(info["Stream"]["Video"])[0]
    assert (video["Width"], video["Height"]) == ("320", "240"), video


# --- Input.Url -------------------------------------------------------------------------------------
def test_input_url_is_fetched_over_http(client, bucket, origin, tmp_path):
    url = origin.url("clip.mp4") + "?sign=abc"
    before = len(origin.paths)
    request = {
        "Tag": "Transcode",
        "Input": {"Url": url},
        "Operation": {"Transcode": INLINE, "Output": cs.output(bucket, "url/out.mp4")},
    }
    job, final = run(client, bucket, request)
    assert job["Input"].get("Url") == url, job["Input"]
    succeeded(final)
    assert origin.paths[before:] == ["/clip.mp4?sign=abc"], origin.paths
    assert video_width(probe_output(client, bucket, "url/out.mp4", tmp_path)) == 256


def test_input_url_of_this_server_reads_the_bucket(client, bucket, source):
    url = f"http://{bucket}.cos.{rf.REGION}.myqcloud.com/{source}"
    _, final = run(client, bucket, {"Tag": "MediaInfo", "Input": {"Url": url}})
    succeeded(final)
    with ci_error((400, 404), {"NoSuchKey", "ResourceNotFound"}) as got:
        submit(client, bucket, {"Tag": "MediaInfo", "Input": {"Url": url.replace("in.mp4", "none.mp4")}})
    assert "none.mp4" in got[0].message


def test_input_url_to_a_private_address_is_refused(server_factory, origin):
    # Neither list allows loopback: URL inputs may reach public addresses only.
    srv = server_factory(extra_env={"REELFLOW_CALLBACK_ALLOW_CIDRS": "", "REELFLOW_FETCH_ALLOW_CIDRS": ""})
    client = srv.client()
    bucket = rf.create_bucket(client, "ssrf")
    before = len(origin.paths)
    literal = origin.url("clip.mp4")
    with ci_error(400, "InvalidArgument") as got:
        submit(client, bucket, {"Tag": "MediaInfo", "Input": {"Url": literal}})
    message = got[0].message
    assert literal in message and "non-public" in message and "REELFLOW_FETCH_ALLOW_CIDRS" in message, message
    # A host name is resolved when the job runs; every address it has is refused.
    named = origin.url("clip.mp4", host="localhost")
    _, final = run(client, bucket, {"Tag": "MediaInfo", "Input": {"Url": named}})
    assert final["State"] == "Failed" and final["Code"] == "ResourceAccessDenied", final
    assert named in final["Message"] and "non-public" in final["Message"], final["Message"]
    assert final["JobId"] not in final["Message"], final["Message"]
    assert origin.paths[before:] == [], "nothing reached the private address"


# --- Watermarks ------------------------------------------------------------------------------------
def watermarks(bucket: str, image_key: str = "watermark.png") -> list[dict]:
    """The two watermarks of the demo `ci_create_media_transcode_with_watermark_jobs`."""
    return [
        {
            "Type": "Text", "Pos": "TopRight", "LocMode": "Absolute", "Dx": "64", "Dy": "64",
            "StartTime": "0", "EndTime": "1000.5",
            "Text": {"Text": "水印内容", "FontSize": "30", "FontType": "simfang.ttf",
                     "FontColor": "0xFFEEFF", "Transparency": "100"},
        },
        {
            "Type": "Image", "Pos": "TopLeft", "LocMode": "Absolute", "Dx": "10", "Dy": "10",
            "StartTime": "0", "EndTime": "1000.5",
            "Image": {"Url": f"http://{bucket}.cos.{rf.REGION}.myqcloud.com/{image_key}", "Mode": "Fixed",
                      "Width": "32", "Height": "32", "Transparency": "100"},
        },
    ]  # fmt: skip


def test_inline_watermarks_and_remove_watermark(client, bucket, source, logo_png, tmp_path):
    rf.upload(client, bucket, "watermark.png", logo_png)
    remove = {"Dx": "300", "Dy": "200", "Width": "64", "Height": "64"}
    request = {
        "Tag": "Transcode",
        "Input": {"Object": source},
        "Operation": {
            "Transcode": INLINE,
            "Watermark": watermarks(bucket),
            "RemoveWatermark": remove,
            "Output": cs.output(bucket, "wm/out.mp4"),
        },
    }
    job, final = run(client, bucket, request)
    echoed = rf.as_list(job["Operation"].get("Watermark"))
    assert [w["Type"] for w in echoed] == ["Text", "Image"], job["Operation"]
    assert job["Operation"].get("RemoveWatermark") == remove, job["Operation"]
    succeeded(final)
    assert video_width(probe_output(client, bucket, "wm/out.mp4", tmp_path)) == 256


def test_watermark_template_id_wins_over_inline_watermarks(client, bucket, source, tmp_path):
    tpl = client.ci_create_template(
        Bucket=bucket,
        Template={"Tag": "Watermark", "Name": "wm-text",
                  "Watermark": {"Type": "Text", "Pos": "TopLeft", "Text": {"Text": "tpl", "FontSize": "20"}}},
    )["Template"]["TemplateId"]  # fmt: skip
    request = {
        "Tag": "Transcode",
        "Input": {"Object": source},
        "Operation": {
            "Transcode": INLINE,
            "WatermarkTemplateId": tpl,
            # names an image that does not exist: the job only succeeds if it is ignored
            "Watermark": watermarks(bucket, image_key="missing.png"),
            "Output": cs.output(bucket, "wm/tpl.mp4"),
        },
    }
    job, final = run(client, bucket, request)
    assert job["Operation"].get("WatermarkTemplateId") == tpl, job["Operation"]
    assert "Watermark" not in job["Operation"], "the inline watermarks are not in effect"
    succeeded(final)


def test_template_id_wins_over_inline_transcode(client, bucket, source, tmp_path):
    tid = rf.create_transcode_template(client, bucket, "wins-192", 192, 144)
    request = {
        "Tag": "Transcode",
        "Input": {"Object": source},
        "Operation": {"TemplateId": tid, "Transcode": INLINE, "Output": cs.output(bucket, "tpl/out.mp4")},
    }
    job, final = run(client, bucket, request)
    assert job["Operation"]["TemplateId"] == tid and "Transcode" not in job["Operation"], job["Operation"]
    succeeded(final)
    assert video_width(probe_output(client, bucket, "tpl/out.mp4", tmp_path)) == 192


# --- Concat of fragments only --------------------------------------------------------------------------
def test_concat_with_only_fragments(client, bucket, media, tmp_path):
    rf.upload(client, bucket, "frag/1.mp4", media.video_bytes())
    rf.upload(client, bucket, "frag/2.mp4", media.video_bytes())
    host = f"http://{bucket}.cos.{rf.REGION}.myqcloud.com"
    request = {
        "Tag": "Concat",
        "Operation": {
            "ConcatTemplate": {
                "ConcatFragment": [
                    {"Url": f"{host}/frag/1.mp4", "FragmentIndex": "0", "StartTime": "0", "EndTime": "1"},
                    {"Url": f"{host}/frag/2.mp4", "FragmentIndex": "1"},
                ],
                "Audio": {"Codec": "mp3"},
                "Video": {"Codec": "H.264", "Bitrate": "1000", "Width": "160", "Fps": "25"},
                "Container": {"Format": "mp4"},
                "SceneChangeInfo": {"Mode": "Default", "Time": "3"},
                "DirectConcat": "false",
            },
            "Output": cs.output(bucket, "concat-result.mp4"),
        },
    }
    _, final = run(client, bucket, request)
    succeeded(final)
    probe = probe_output(client, bucket, "concat-result.mp4", tmp_path)
    assert abs(float(probe["format"]["duration"]) - 3.0) < 0.3, probe["format"]  # 1 s + 2 s
    assert video_width(probe) == 160


# --- FreeTranscode, JobLevel, UserData ----------------------------------------------------------------
def test_free_transcode_job_level_and_user_data(client, bucket, source):
    # every printable ASCII character (inner spaces; leading and trailing blanks are trimmed)
    user_data = "".join(chr(32 + (i + 1) % 95) for i in range(1024))
    assert user_data[0] != " " and user_data[-1] != " " and " " in user_data
    request = {
        "Tag": "Transcode",
        "Input": {"Object": source},
        "Operation": {
            "Transcode": INLINE,
            "FreeTranscode": "true",
            "JobLevel": "2",
            "UserData": user_data,
            "Output": cs.output(bucket, "opts/out.mp4"),
        },
    }
    job, final = run(client, bucket, request)
    for detail in (job, final):
        assert detail["Operation"].get("UserData") == user_data
        assert detail["Operation"].get("JobLevel") == "2"
    succeeded(final)


@pytest.mark.parametrize(
    "operation, element",
    [({"JobLevel": "3"}, "JobLevel"), ({"UserData": "数据"}, "UserData"), ({"UserData": "x" * 1025}, "UserData"),
     ({"FreeTranscode": "maybe"}, "FreeTranscode")],
)  # fmt: skip
def test_bad_job_options_are_invalid_arguments(client, bucket, source, operation, element):
    request = {
        "Tag": "Transcode",
        "Input": {"Object": source},
        "Operation": {"Transcode": INLINE, **operation, "Output": cs.output(bucket, "bad.mp4")},
    }
    with ci_error(400, "InvalidArgument") as got:
        submit(client, bucket, request)
    assert element in got[0].message


# --- CallBack=no -----------------------------------------------------------------------------------------
def test_callback_no_suppresses_the_queue_callback(client, receiver, bucket, source):
    qid = cs.default_queue(client, bucket)["QueueId"]
    url = receiver.url("queue-cb")
    notify = {"Url": url, "Event": "TaskFinish", "Type": "Url", "State": "On", "ResultFormat": "XML"}
    client.ci_update_media_queue(
        Bucket=bucket, QueueId=qid, Request={"Name": "q", "QueueID": qid, "State": "Active", "NotifyConfig": notify}
    )
    base = {"Tag": "MediaInfo", "Input": {"Object": source}}
    _, silent = run(client, bucket, {**base, "CallBack": "no"})
    _, loud = run(client, bucket, base)
    succeeded(silent)
    succeeded(loud)
    receiver.wait_count(url, 1)
    time.sleep(QUIET)
    job_ids = [rf.text_of(cs.xml_root(d).find("JobsDetail"), "JobId") for d in receiver.deliveries(url)]
    assert job_ids == [loud["JobId"]], f"only the job without CallBack=no is reported: {job_ids}"


# --- refused options ---------------------------------------------------------------------------------------
def _refused(bucket: str, source: str) -> dict[str, tuple[dict, int, str]]:
    transcode = {"Transcode": INLINE, "Output": cs.output(bucket, "x.mp4")}
    return {
        "digital-watermark": (
            {"Tag": "Transcode", "Input": {"Object": source},
             "Operation": {**transcode, "DigitalWatermark": {"Type": "Text", "Message": "m", "Version": "V1"}}},
            501, "NotImplemented"),
        "voice-separate-tag": (
            {"Tag": "VoiceSeparate", "Input": {"Object": source}, "Operation": transcode}, 501, "NotImplemented"),
        "tdmq-callback": (
            {"Tag": "Transcode", "Input": {"Object": source}, "Operation": transcode,
             "CallBack": "http://h/cb", "CallBackType": "TDMQ"},
            501, "NotImplemented"),
        "live-stream-input": (
            {"Tag": "Transcode", "Input": {"Url": "http://demo.liveplay.com/demo.m3u8", "SourceType": "LiveStream"},
             "Operation": transcode},
            501, "NotImplemented"),
        "unknown-tag": ({"Tag": "Teleport", "Input": {"Object": source}, "Operation": transcode}, 400, "InvalidArgument"),
        "transcode-without-input": ({"Tag": "Transcode", "Operation": transcode}, 400, "InvalidArgument"),
        "concat-without-fragments": (
            {"Tag": "Concat", "Operation": {"ConcatTemplate": {"Container": {"Format": "mp4"}},
                                            "Output": cs.output(bucket, "x.mp4")}},
            400, "InvalidArgument"),
        "ftp-url": ({"Tag": "MediaInfo", "Input": {"Url": "ftp://example.com/a.mp4"}}, 400, "InvalidArgument"),
        "segment-aigc-metadata": (
            {"Tag": "Segment", "Input": {"Object": source},
             "Operation": {"Segment": {"Format": "mp4", "AIGCMetadata": {"Label": "l"}},
                           "Output": cs.output(bucket, "s.mp4")}},
            501, "NotImplemented"),
    }  # fmt: skip


@pytest.mark.parametrize(
    "case",
    ["digital-watermark", "voice-separate-tag", "tdmq-callback", "live-stream-input", "unknown-tag",
     "transcode-without-input", "concat-without-fragments", "ftp-url", "segment-aigc-metadata"],
)  # fmt: skip
def test_refused_options_are_clean_errors(client, bucket, source, case):
    request, status, code = _refused(bucket, source)[case]
    with ci_error(status, code, case) as got:
        submit(client, bucket, request)
    assert got[0].message and got[0].resource.startswith("/jobs"), got[0]
