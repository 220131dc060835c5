"""Synchronous media calls on objects (`GET /<key>?ci-process=…`, api-reference-2.md §5) through
cos-python-sdk-v5: `get_media_info`, `get_snapshot`, `get_pm3u8`, a pre-signed snapshot URL
fetched with plain `requests`, and the CI errors of misused calls."""

from __future__ import annotations

import shutil
import struct
import subprocess
from pathlib import Path

import pytest
import requests

import compat_support as cs
import reelflow_e2e as rf
import transfer_support as ts

VIDEO = "media/sample.mp4"


@pytest.fixture
def media_bucket(client, bucket, media) -> str:
    client.put_object(Bucket=bucket, Key=VIDEO, Body=media.video_bytes())
    return bucket


def image_size(data: bytes) -> tuple[int, int]:
    """(width, height) of a PNG or baseline/progressive JPEG."""
    if data.startswith(b"\x89PNG"):
        return struct.unpack(">II", data[16:24])
    assert data.startswith(b"\xff\xd8"), data[:8]
    i = 2
    while i + 9 < len(data):
        marker = data[i + 1]
        if 0xC0 <= marker <= 0xCF and marker not in (0xC4, 0xC8, 0xCC):
            height, width = struct.unpack(">HH", data[i + 5 : i + 9])
            return width, height
        i += 2 + struct.unpack(">H", data[i + 2 : i + 4])[0]
    raise AssertionError("no JPEG frame header")


def snapshot_bytes(resp: dict) -> bytes:
    return resp["Body"].get_raw_stream().read()


def test_get_media_info(client, media_bucket):
    resp = client.get_media_info(Bucket=media_bucket, Key=VIDEO)
    info = resp["MediaInfo"]
    assert isinstance(info, list) and len(info) == 1, resp  # the SDK forces a list
    fmt = info[0]["Format"]
    assert fmt["FormatName"] == "mov,mp4,m4a,3gp,3g2,mj2"
    assert fmt["NumStream"] == "2"
    assert fmt["Duration"].startswith("2.0") and len(fmt["Duration"].split(".")[1]) == 6, fmt
    stream = info[0]["Stream"]
    video, audio = stream["Video"], stream["Audio"]
    assert (video["CodecName"], video["Width"], video["Height"]) == ("h264", "320", "240")
    assert (video["AvgFps"], video["Fps"], video["CodecTag"]) == ("25/1", "25.000000", "0x31637661")
    assert (audio["CodecName"], audio["SampleRate"], audio["Channel"]) == ("aac", "44100", "2")
    assert "Subtitle" in stream


def test_get_snapshot_jpg_and_png(client, media_bucket):
    resp = client.get_snapshot(Bucket=media_bucket, Key=VIDEO, Time="1")
    headers = rf.lower_keys({k: v for k, v in resp.items() if k != "Body"})
    assert rf.media_type(headers.get("content-type")) == "image/jpeg"
    data = snapshot_bytes(resp)
    assert headers.get("content-length") == str(len(data))
    assert image_size(data) == (320, 240)

    resp = client.get_snapshot(Bucket=media_bucket, Key=VIDEO, Time="0.5", Width="160", Format="png")
    data = snapshot_bytes(resp)
    assert rf.media_type(rf.lower_keys(resp).get("content-type")) == "image/png"
    assert image_size(data) == (160, 120), "width alone keeps the aspect ratio"

    resp = client.get_snapshot(Bucket=media_bucket, Key=VIDEO, Time="1.5", Mode="keyframe", Height="60")
    assert image_size(snapshot_bytes(resp)) == (80, 60)


def test_get_snapshot_rotation(client, bucket, tmp_path, media):
    rotated = tmp_path / "rotated.mp4"
    ffmpeg = shutil.which("ffmpeg")
    cmd = [ffmpeg, "-hide_banner", "-loglevel", "error", "-nostdin", "-y", "-i", str(media.video),
           "-c", "copy", "-metadata:s:v:0", "rotate=90", str(rotated)]  # fmt: skip
    subprocess.run(cmd, check=True, timeout=60)
    client.put_object(Bucket=bucket, Key="rot.mp4", Body=rotated.read_bytes())
    auto = client.get_snapshot(Bucket=bucket, Key="rot.mp4", Time="1")
    assert image_size(snapshot_bytes(auto)) == (240, 320)
    off = client.get_snapshot(Bucket=bucket, Key="rot.mp4", Time="1", Rotate="off")
    assert image_size(snapshot_bytes(off)) == (320, 240)


def test_snapshot_of_a_multipart_upload(client, bucket, big_video):
    """`upload_file` stores a multipart object (no single local file): still served."""
    client.upload_file(Bucket=bucket, Key="big/v.mp4", LocalFilePath=str(big_video), PartSize=10, MAXThread=4)
    resp = client.get_snapshot(Bucket=bucket, Key="big/v.mp4", Time="1", Width="640")
    assert image_size(snapshot_bytes(resp)) == (640, 360)
    info = client.get_media_info(Bucket=bucket, Key="big/v.mp4")["MediaInfo"][0]
    assert info["Stream"]["Video"]["Width"] == "1280"


def _hls(tmp_path: Path, media) -> tuple[Path, list[str]]:
    out = tmp_path / "hls"
    out.mkdir()
    ffmpeg = shutil.which("ffmpeg")
    cmd = [ffmpeg, "-hide_banner", "-loglevel", "error", "-nostdin", "-y", "-i", str(media.video),
           "-c", "copy", "-f", "hls", "-hls_time", "1", "-hls_playlist_type", "vod",
           "-hls_segment_filename", str(out / "seg-%d.ts"), str(out / "index.m3u8")]  # fmt: skip
    subprocess.run(cmd, check=True, timeout=60)
    text = (out / "index.m3u8").read_text()
    return out, [line for line in text.splitlines() if line and not line.startswith("#")]


def test_get_pm3u8_signs_segments(server, client, bucket, tmp_path, media):
    out, segments = _hls(tmp_path, media)
    key_line = '#EXT-X-KEY:METHOD=AES-128,URI="https://keys.example.com/k1"'
    playlist = (out / "index.m3u8").read_text().replace("#EXTINF", key_line + "\n#EXTINF", 1)
    client.put_object(Bucket=bucket, Key="vod/index.m3u8", Body=playlist.encode())
    for name in segments:
        client.put_object(Bucket=bucket, Key=f"vod/{name}", Body=(out / name).read_bytes())

    resp = client.get_pm3u8(Bucket=bucket, Key="vod/index.m3u8", Expires="3600")
    assert rf.media_type(rf.lower_keys(resp).get("content-type")) == "application/x-mpegurl"
    text = resp["Body"].get_raw_stream().read().decode()
    assert key_line in text, text
    lines = [line for line in text.splitlines() if line and not line.startswith("#")]
    assert len(lines) == len(segments)
    for line, name in zip(lines, segments):
        path, query = line.split("?", 1)
        assert path == name
        assert query.startswith("q-sign-algorithm=sha1&q-ak=") and "&q-header-list=host&" in query, query
        # The player resolves the line against the playlist URL; the SDK's Host in IP mode.
        got = requests.get(
            f"{server.base_url}/vod/{line}", headers={"Host": rf.cos_host(bucket)}, timeout=30
        )
        assert got.status_code == 200, got.text
        assert got.content == (out / name).read_bytes()

    with cs.ci_error(400, "InvalidArgument") as err:
        client.get_pm3u8(Bucket=bucket, Key="vod/index.m3u8", Expires="60")
    assert "expires" in err[0].message


def test_presigned_snapshot_url_with_plain_requests(server, media_bucket, monkeypatch):
    domain_client = ts.cos_domain_client(server, monkeypatch)
    url = domain_client.get_presigned_url(
        Bucket=media_bucket,
        Key=VIDEO,
        Method="GET",
        Expired=300,
        Params={"ci-process": "snapshot", "time": "1", "width": "100", "height": "50"},
    )
    got = requests.get(url, timeout=30)
    assert got.status_code == 200, got.text
    assert rf.media_type(got.headers.get("Content-Type")) == "image/jpeg"
    assert image_size(got.content) == (100, 50)
    tampered = requests.get(url.replace("time=1", "time=1.5"), timeout=30)
    assert tampered.status_code == 403


def test_errors(client, media_bucket):
    with cs.ci_error(404, "NoSuchKey"):
        client.get_media_info(Bucket=media_bucket, Key="media/missing.mp4")
    with cs.ci_error(404, "NoSuchKey"):
        client.get_snapshot(Bucket=media_bucket, Key="media/missing.mp4", Time="1")
    for time in ("abc", "-1", "60"):
        with cs.ci_error(400, "InvalidArgument") as err:
            client.get_snapshot(Bucket=media_bucket, Key=VIDEO, Time=time)
        assert "time" in err[0].message, err[0]
    for kwargs, name in (({"Width": "-1"}, "width"), ({"Format": "gif"}, "format"), ({"Rotate": "90"}, "rotate"),
                         ({"Mode": "fast"}, "mode")):  # fmt: skip
        with cs.ci_error(400, "InvalidArgument") as err:
            client.get_snapshot(Bucket=media_bucket, Key=VIDEO, Time="1", **kwargs)
        assert name in err[0].message, err[0]
    client.put_object(Bucket=media_bucket, Key="notes.txt", Body=b"plain text, not media\n")
    with cs.ci_error(400, "InvalidArgument") as err:
        client.get_snapshot(Bucket=media_bucket, Key="notes.txt", Time="1")
    assert "notes.txt" in err[0].message and "not a media file" in err[0].message, err[0]
    with cs.ci_error(400, "InvalidArgument"):
        client.get_media_info(Bucket=media_bucket, Key="notes.txt")
    for leak in ("/blobs", "/work", "ci-process/"):
        assert leak not in err[0].message
    with cs.ci_error(501, "NotImplemented") as err:
        client.ci_process(media_bucket, "/" + VIDEO, "getframes")
    assert "getframes" in err[0].message
