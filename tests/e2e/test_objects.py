"""The COS object API subset, through the SDK: put/get/head/list/delete, metadata, ranges,
key encoding, and refusal of keys with `..` segments."""

from __future__ import annotations

import hashlib
import http.client
import re
from email.utils import parsedate_to_datetime
from urllib.parse import quote

import pytest
import requests
from qcloud_cos import CosServiceError

import reelflow_e2e as rf

BODY = b"hello, reelflow\n"
LIST_KEYS = ["list/a.txt", "list/b/1.txt", "list/b/2.txt", "list/c.txt", "list/d/3.txt"]
ISO_MILLIS = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$")


def test_put_head_get_round_trip_with_metadata(client, bucket):
    key = "docs/hello.txt"
    put = rf.lower_keys(
        client.put_object(
            Bucket=bucket,
            Body=BODY,
            Key=key,
            ContentType="text/plain; charset=utf-8",
            Metadata={"x-cos-meta-color": "blue", "x-cos-meta-Owner-Name": "Alice Smith"},
        )
    )
    etag = f'"{hashlib.md5(BODY).hexdigest()}"'
    assert put.get("etag") == etag, put

    head = rf.lower_keys(client.head_object(Bucket=bucket, Key=key))
    assert head.get("content-length") == str(len(BODY))
    assert head.get("content-type") == "text/plain; charset=utf-8"
    assert head.get("etag") == etag
    assert head.get("x-cos-meta-color") == "blue"
    assert head.get("x-cos-meta-owner-name") == "Alice Smith"
    assert head.get("accept-ranges") == "bytes"
    assert parsedate_to_datetime(head["last-modified"]), head.get("last-modified")

    resp = client.get_object(Bucket=bucket, Key=key)
    assert resp["Body"].get_raw_stream().read() == BODY
    got = rf.lower_keys({k: v for k, v in resp.items() if k != "Body"})
    assert got.get("content-type") == "text/plain; charset=utf-8"
    assert got.get("etag") == etag
    assert got.get("x-cos-meta-color") == "blue"
    assert got.get("x-cos-meta-owner-name") == "Alice Smith"


def test_keys_with_spaces_plus_percent_and_unicode(client, bucket):
    key = "docs/a b+c 中文 (1).txt"
    # The SDK always lists with encoding-type=url and url-decodes the keys it gets back, so a
    # literal "%41" survives only when the server encodes keys in the listing.
    pct = "docs/rate%41%25.txt"
    for k in (key, pct):
        client.put_object(Bucket=bucket, Body=k.encode(), Key=k)
        assert client.get_object(Bucket=bucket, Key=k)["Body"].get_raw_stream().read() == k.encode()
    assert rf.list_keys(client, bucket, "docs/") == sorted([key, pct])
    # "+" is not a space in a path
    with pytest.raises(CosServiceError) as info:
        client.get_object(Bucket=bucket, Key="docs/a b c 中文 (1).txt")
    assert info.value.get_status_code() == 404


def test_range_get(client, bucket):
    key = "range/digits.txt"
    data = b"0123456789"
    client.put_object(Bucket=bucket, Body=data, Key=key)

    resp = client.get_object(Bucket=bucket, Key=key, Range="bytes=2-5")
    assert resp["Body"].get_raw_stream().read() == b"2345"
    h = rf.lower_keys({k: v for k, v in resp.items() if k != "Body"})
    assert h.get("content-range") == "bytes 2-5/10", h
    assert h.get("content-length") == "4"

    resp = client.get_object(Bucket=bucket, Key=key, Range="bytes=7-")
    assert resp["Body"].get_raw_stream().read() == b"789"

    with pytest.raises(CosServiceError) as info:
        client.get_object(Bucket=bucket, Key=key, Range="bytes=50-60")
    assert info.value.get_status_code() == 416


def test_list_prefix_delimiter_and_paging(client, bucket):
    for key in reversed(LIST_KEYS):  # upload order must not matter
        client.put_object(Bucket=bucket, Body=key.encode(), Key=key)
    client.put_object(Bucket=bucket, Body=b"x", Key="listing-elsewhere.txt")

    resp = client.list_objects(Bucket=bucket, Prefix="list/", Delimiter="/")
    assert resp["Name"] == bucket
    assert resp["Prefix"] == "list/"
    assert resp["IsTruncated"] == "false"
    contents = rf.as_list(resp.get("Contents"))
    assert [c["Key"] for c in contents] == ["list/a.txt", "list/c.txt"]
    assert [p["Prefix"] for p in rf.as_list(resp.get("CommonPrefixes"))] == ["list/b/", "list/d/"]
    a = contents[0]
    assert a["Size"] == str(len(b"list/a.txt"))
    assert a["ETag"] == f'"{hashlib.md5(b"list/a.txt").hexdigest()}"'
    assert ISO_MILLIS.match(a["LastModified"]), a["LastModified"]
    assert a.get("StorageClass") == "STANDARD"

    seen: list[str] = []
    marker = ""
    pages = 0
    while True:
        resp = client.list_objects(Bucket=bucket, Prefix="list/", Marker=marker, MaxKeys=2)
        assert resp["MaxKeys"] == "2"
        page = [c["Key"] for c in rf.as_list(resp.get("Contents"))]
        assert len(page) <= 2
        seen.extend(page)
        pages += 1
        if resp["IsTruncated"] != "true":
            break
        assert resp.get("NextMarker") == page[-1], resp
        marker = resp["NextMarker"]
        assert pages < 10
    assert seen == LIST_KEYS
    assert pages == 3

    resp = client.list_objects(Bucket=bucket, Prefix="nothing-here/")
    assert rf.as_list(resp.get("Contents")) == []
    assert resp["IsTruncated"] == "false"


def test_delete(client, bucket):
    key = "del/me.txt"
    client.put_object(Bucket=bucket, Body=BODY, Key=key)
    client.delete_object(Bucket=bucket, Key=key)
    with pytest.raises(CosServiceError) as info:
        client.head_object(Bucket=bucket, Key=key)
    assert info.value.get_status_code() == 404
    with pytest.raises(CosServiceError) as info:
        client.get_object(Bucket=bucket, Key=key)
    assert info.value.get_status_code() == 404
    assert info.value.get_error_code() == "NoSuchKey"
    client.delete_object(Bucket=bucket, Key=key)  # deleting a missing key is not an error
    assert rf.list_keys(client, bucket, "del/") == []


def test_overwrite_replaces_content_and_metadata(client, bucket):
    key = "over/write.txt"
    client.put_object(Bucket=bucket, Body=b"first", Key=key, Metadata={"x-cos-meta-v": "1"})
    client.put_object(Bucket=bucket, Body=b"second!", Key=key)
    head = rf.lower_keys(client.head_object(Bucket=bucket, Key=key))
    assert head.get("content-length") == "7"
    assert "x-cos-meta-v" not in head
    assert client.get_object(Bucket=bucket, Key=key)["Body"].get_raw_stream().read() == b"second!"


# --- `..` segments --------------------------------------------------------------------------
def _raw(server, client, bucket, method: str, wire_path: str, signed_key: str, body: bytes = b""):
    """Sends `wire_path` byte for byte (http.client does not normalise dot segments),
    signed for the decoded key `signed_key`."""
    headers = rf.signed_headers(client, method, bucket, signed_key)
    headers["Content-Length"] = str(len(body))
    conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=10)
    try:
        conn.request(method, wire_path, body=body, headers=headers)
        resp = conn.getresponse()
        return resp.status, resp.read(), {k.lower(): v for k, v in resp.getheaders()}
    finally:
        conn.close()


@pytest.mark.parametrize(
    "wire_path, key",
    [
        ("/a/../escape.txt", "/a/../escape.txt"),
        ("/../escape.txt", "/../escape.txt"),
        ("/a/%2E%2E/escape.txt", "/a/../escape.txt"),
        ("/a/..%2Fescape.txt", "/a/../escape.txt"),
    ],
    ids=["literal", "leading", "percent-encoded-dots", "encoded-slash"],
)
def test_dot_dot_segments_are_refused(server, client, bucket, wire_path, key):
    status, body, headers = _raw(server, client, bucket, "PUT", wire_path, key, b"evil")
    assert status == 400, f"PUT {wire_path}: status {status}, body {body[:300]!r}"
    fields = rf.error_fields(body)
    assert fields.get("Code") and fields.get("Message") and fields.get("RequestId"), fields

    status, body, _ = _raw(server, client, bucket, "GET", wire_path, key)
    assert status == 400, f"GET {wire_path}: status {status}, body {body[:300]!r}"
    assert b"evil" not in body

    assert rf.list_keys(client, bucket) == [], "nothing may have been stored"


def test_sdk_key_with_dot_dot_is_refused(client, bucket):
    # The SDK sends "a/../b.txt" as /a/..%2Fb.txt and signs the decoded key.
    with pytest.raises(CosServiceError) as info:
        client.put_object(Bucket=bucket, Body=b"evil", Key="a/../b.txt")
    assert info.value.get_status_code() == 400
    assert info.value.get_error_code() not in ("", "Unknown")
    assert rf.list_keys(client, bucket) == []


def test_dot_dot_does_not_escape_the_data_dir(server, client, bucket):
    # Belt and braces for the refusal above: whatever the status, no file appears next to the data dir.
    before = set(server.data_dir.parent.iterdir())
    for path in ("/../../escape-probe.txt", "/%2E%2E/%2E%2E/escape-probe.txt"):
        _raw(server, client, bucket, "PUT", path, "/../../escape-probe.txt", b"evil")
    after = set(server.data_dir.parent.iterdir())
    assert not [p for p in after - before if "escape-probe" in p.name]
    assert not (server.data_dir.parent.parent / "escape-probe.txt").exists()


def test_unknown_bucket_is_404(server, client):
    with pytest.raises(CosServiceError) as info:
        client.put_object(Bucket=rf.new_bucket_name("nobucket"), Body=b"x", Key="k.txt")
    assert info.value.get_status_code() == 404
    assert info.value.get_error_code() == "NoSuchBucket"


def test_unsigned_object_read_is_refused(server, client, bucket):
    client.put_object(Bucket=bucket, Body=BODY, Key="private.txt")
    resp = requests.get(
        f"{server.base_url}/{quote('private.txt')}", headers={"Host": rf.cos_host(bucket)}, timeout=10
    )
    assert resp.status_code == 403
    assert BODY not in resp.content
