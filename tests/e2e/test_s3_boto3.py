"""The S3 API with boto3 1.44.5 at its default settings (SigV4, CRC32 request checksums
`when_supported`): path style against http://127.0.0.1:P, virtual-host style under
REELFLOW_DOMAIN, aws-chunked bodies over HTTPS, presigned URLs, wrong secrets, and S3 uploads
starting workflows (api-reference-2.md §2, §3; client-testing.md "boto3")."""

from __future__ import annotations

import datetime as dt
import xml.etree.ElementTree as ET

import botocore.auth
import pytest
import requests
from boto3.s3.transfer import TransferConfig

import reelflow_e2e as rf
import transfer_support as ts
from transfer_support import MiB


@pytest.fixture
def s3(server):
    return ts.s3_client(server)


@pytest.fixture
def s3_bucket(s3) -> str:
    bucket = rf.new_bucket_name("s3")
    s3.create_bucket(Bucket=bucket)
    return bucket


def cos_bytes(client, bucket: str, key: str) -> bytes:
    """The stored object as the COS SDK reads it: what boto3 sent must be stored as is."""
    return client.get_object(Bucket=bucket, Key=key)["Body"].get_raw_stream().read()


def s3_error_fields(body: bytes) -> dict[str, str]:
    root = ET.fromstring(body)
    assert root.tag == "Error", f"error root <{root.tag}>: {body[:300]!r}"
    return {c.tag: (c.text or "").strip() for c in root}


# =====================================================================================================
# buckets
# =====================================================================================================
def test_create_head_and_list_buckets(s3):
    bucket = rf.new_bucket_name("s3b")
    resp = s3.create_bucket(Bucket=bucket)
    assert resp["ResponseMetadata"]["HTTPStatusCode"] == 200, resp
    assert s3.head_bucket(Bucket=bucket)["ResponseMetadata"]["HTTPStatusCode"] == 200
    status, code, _ = ts.client_error(lambda: s3.head_bucket(Bucket=rf.new_bucket_name("nope")))
    assert status == 404, (status, code)

    listed = s3.list_buckets()
    names = [b["Name"] for b in listed["Buckets"]]
    assert bucket in names, f"ListBuckets does not list {bucket}: {names[:20]}"
    mine = next(b for b in listed["Buckets"] if b["Name"] == bucket)
    assert isinstance(mine.get("CreationDate"), dt.datetime), mine
    assert listed.get("Owner", {}).get("ID"), listed.get("Owner")


# =====================================================================================================
# objects
# =====================================================================================================
def test_put_object_stores_exactly_the_payload(s3, s3_bucket, client):
    payload = b"hello world\n" * 4096
    resp = s3.put_object(Bucket=s3_bucket, Key="p/hello.txt", Body=payload, ContentType="text/plain")
    assert resp["ETag"] == f'"{ts.md5_hex(payload)}"', resp
    # read back by another client: no aws-chunked framing, no trailer, nothing but the payload
    assert cos_bytes(client, s3_bucket, "p/hello.txt") == payload
    got = s3.get_object(Bucket=s3_bucket, Key="p/hello.txt")
    assert got["Body"].read() == payload
    assert got["ContentLength"] == len(payload) and got["ETag"] == resp["ETag"]
    assert rf.media_type(got["ContentType"]) == "text/plain"
    head = s3.head_object(Bucket=s3_bucket, Key="p/hello.txt")
    assert head["ContentLength"] == len(payload) and head["ETag"] == resp["ETag"], head

    # an empty object
    s3.put_object(Bucket=s3_bucket, Key="p/empty", Body=b"")
    assert s3.get_object(Bucket=s3_bucket, Key="p/empty")["Body"].read() == b""

    status, code, _ = ts.client_error(lambda: s3.get_object(Bucket=s3_bucket, Key="p/missing"))
    assert (status, code) == (404, "NoSuchKey")


def test_user_metadata_round_trip(s3, s3_bucket):
    s3.put_object(Bucket=s3_bucket, Key="m.txt", Body=b"meta", Metadata={"origin": "boto3", "run": "7"})
    head = s3.head_object(Bucket=s3_bucket, Key="m.txt")
    assert head["Metadata"] == {"origin": "boto3", "run": "7"}, head


def test_get_object_range(s3, s3_bucket):
    data = bytes(range(256)) * 64
    s3.put_object(Bucket=s3_bucket, Key="r.bin", Body=data)
    got = s3.get_object(Bucket=s3_bucket, Key="r.bin", Range="bytes=100-1123")
    assert got["ResponseMetadata"]["HTTPStatusCode"] == 206
    assert got["ContentRange"] == f"bytes 100-1123/{len(data)}", got.get("ContentRange")
    assert got["ContentLength"] == 1024 and got["Body"].read() == data[100:1124]
    tail = s3.get_object(Bucket=s3_bucket, Key="r.bin", Range="bytes=-10")
    assert tail["Body"].read() == data[-10:]


def test_upload_file_multipart_and_download_file(s3, s3_bucket, client, tmp_path):
    data = ts.write_random(tmp_path / "up.bin", 20 * MiB + 1)  # > 8 MB threshold: 3 parts of 8 MB
    s3.upload_file(str(tmp_path / "up.bin"), s3_bucket, "big/up.bin")
    head = s3.head_object(Bucket=s3_bucket, Key="big/up.bin")
    assert head["ContentLength"] == len(data), head
    assert head["ETag"] == ts.multipart_etag(ts.split_parts(data, 8 * MiB)), head["ETag"]
    assert cos_bytes(client, s3_bucket, "big/up.bin") == data

    s3.download_file(s3_bucket, "big/up.bin", str(tmp_path / "down.bin"))  # ranged GETs above 8 MB
    assert (tmp_path / "down.bin").read_bytes() == data
    assert s3.list_multipart_uploads(Bucket=s3_bucket).get("Uploads", []) == []


def test_create_multipart_upload_and_abort(s3, s3_bucket):
    up = s3.create_multipart_upload(Bucket=s3_bucket, Key="mp/x.bin")
    s3.upload_part(Bucket=s3_bucket, Key="mp/x.bin", UploadId=up["UploadId"], PartNumber=1, Body=b"z" * MiB)
    parts = s3.list_parts(Bucket=s3_bucket, Key="mp/x.bin", UploadId=up["UploadId"])
    assert [(p["PartNumber"], p["Size"]) for p in parts["Parts"]] == [(1, MiB)], parts
    uploads = s3.list_multipart_uploads(Bucket=s3_bucket)["Uploads"]
    assert [(u["Key"], u["UploadId"]) for u in uploads] == [("mp/x.bin", up["UploadId"])]
    s3.abort_multipart_upload(Bucket=s3_bucket, Key="mp/x.bin", UploadId=up["UploadId"])
    status, code, _ = ts.client_error(
        lambda: s3.list_parts(Bucket=s3_bucket, Key="mp/x.bin", UploadId=up["UploadId"])
    )
    assert (status, code) == (404, "NoSuchUpload")


# =====================================================================================================
# listing
# =====================================================================================================
KEYS = ["a/1.txt", "a/2.txt", "a/3.txt", "b/1.txt", "c.txt", "d/with space+plus.txt", "u/ünï.txt"]


@pytest.fixture
def listed_bucket(s3, s3_bucket) -> str:
    for key in KEYS:
        s3.put_object(Bucket=s3_bucket, Key=key, Body=key.encode())
    return s3_bucket


def test_list_objects_v2_paging(s3, listed_bucket):
    want = sorted(KEYS)
    first = s3.list_objects_v2(Bucket=listed_bucket, MaxKeys=3)
    assert [o["Key"] for o in first["Contents"]] == want[:3], first
    assert first["IsTruncated"] is True and first["KeyCount"] == 3 and first.get("NextContinuationToken"), first
    keys, token, pages = [], None, 0
    while True:
        kwargs = {"ContinuationToken": token} if token else {}
        page = s3.list_objects_v2(Bucket=listed_bucket, MaxKeys=3, **kwargs)
        pages += 1
        keys += [o["Key"] for o in page.get("Contents", [])]
        if not page["IsTruncated"]:
            break
        token = page["NextContinuationToken"]
        assert pages < 10
    assert keys == want and pages == 3, (keys, pages)

    sizes = {o["Key"]: o["Size"] for o in s3.list_objects_v2(Bucket=listed_bucket)["Contents"]}
    assert sizes == {k: len(k.encode()) for k in KEYS}

    after = s3.list_objects_v2(Bucket=listed_bucket, StartAfter="b/1.txt")
    assert [o["Key"] for o in after["Contents"]] == [k for k in want if k > "b/1.txt"]

    tree = s3.list_objects_v2(Bucket=listed_bucket, Delimiter="/")
    assert [p["Prefix"] for p in tree["CommonPrefixes"]] == ["a/", "b/", "d/", "u/"], tree
    assert [o["Key"] for o in tree["Contents"]] == ["c.txt"], tree
    sub = s3.list_objects_v2(Bucket=listed_bucket, Prefix="a/")
    assert [o["Key"] for o in sub["Contents"]] == ["a/1.txt", "a/2.txt", "a/3.txt"] and sub["KeyCount"] == 3

    paged = s3.get_paginator("list_objects_v2").paginate(Bucket=listed_bucket, PaginationConfig={"PageSize": 2})
    assert [o["Key"] for page in paged for o in page.get("Contents", [])] == want


def test_list_objects_v1_paging(s3, listed_bucket):
    want = sorted(KEYS)
    first = s3.list_objects(Bucket=listed_bucket, MaxKeys=3)
    assert [o["Key"] for o in first["Contents"]] == want[:3] and first["IsTruncated"] is True, first
    rest = s3.list_objects(Bucket=listed_bucket, Marker=first["Contents"][-1]["Key"])
    assert [o["Key"] for o in rest["Contents"]] == want[3:] and rest["IsTruncated"] is False, rest
    paged = s3.get_paginator("list_objects").paginate(Bucket=listed_bucket, PaginationConfig={"PageSize": 2})
    assert [o["Key"] for page in paged for o in page.get("Contents", [])] == want
    tree = s3.list_objects(Bucket=listed_bucket, Delimiter="/", Prefix="")
    assert [p["Prefix"] for p in tree["CommonPrefixes"]] == ["a/", "b/", "d/", "u/"], tree


def test_delete_objects_quiet_and_verbose(s3, listed_bucket):
    verbose = s3.delete_objects(
        Bucket=listed_bucket,
        Delete={"Objects": [{"Key": "a/1.txt"}, {"Key": "a/2.txt"}, {"Key": "never-existed"}], "Quiet": False},
    )
    assert sorted(d["Key"] for d in verbose.get("Deleted", [])) == ["a/1.txt", "a/2.txt", "never-existed"], verbose
    assert verbose.get("Errors", []) == [], verbose
    quiet = s3.delete_objects(
        Bucket=listed_bucket, Delete={"Objects": [{"Key": "a/3.txt"}, {"Key": "u/ünï.txt"}], "Quiet": True}
    )
    assert quiet.get("Deleted", []) == [] and quiet.get("Errors", []) == [], quiet
    left = [o["Key"] for o in s3.list_objects_v2(Bucket=listed_bucket).get("Contents", [])]
    assert left == ["b/1.txt", "c.txt", "d/with space+plus.txt"], left


# =====================================================================================================
# presigned URLs and signatures
# =====================================================================================================
def test_presigned_put_and_get_with_requests(s3, s3_bucket):
    payload = b"uploaded through a presigned URL\n" * 100
    put_url = s3.generate_presigned_url("put_object", Params={"Bucket": s3_bucket, "Key": "pre/x.txt"}, ExpiresIn=300)
    assert "X-Amz-Signature=" in put_url
    r = requests.put(put_url, data=payload, timeout=30)
    assert r.status_code == 200, (r.status_code, r.content[:500])
    get_url = s3.generate_presigned_url("get_object", Params={"Bucket": s3_bucket, "Key": "pre/x.txt"}, ExpiresIn=300)
    r = requests.get(get_url, timeout=30)
    assert r.status_code == 200 and r.content == payload, (r.status_code, r.content[:300])
    # the signature covers the key: another key is refused
    r = requests.get(get_url.replace("pre/x.txt", "pre/y.txt"), timeout=30)
    assert r.status_code == 403, (r.status_code, r.content[:300])


def test_expired_presigned_url_is_refused(s3, s3_bucket, monkeypatch):
    s3.put_object(Bucket=s3_bucket, Key="old.txt", Body=b"old")
    real_now = botocore.auth.get_current_datetime
    # signed 10 minutes ago for 60 s: expired, though well inside the 15-minute clock-skew window
    monkeypatch.setattr(botocore.auth, "get_current_datetime", lambda *a, **k: real_now(*a, **k) - dt.timedelta(minutes=10))
    url = s3.generate_presigned_url("get_object", Params={"Bucket": s3_bucket, "Key": "old.txt"}, ExpiresIn=60)
    monkeypatch.undo()
    r = requests.get(url, timeout=30)
    assert r.status_code == 403, (r.status_code, r.content[:300])
    assert s3_error_fields(r.content).get("Code") == "AccessDenied", r.content[:500]


def test_wrong_secret_is_refused_in_s3_shape(server, s3, s3_bucket):
    bad = ts.s3_client(server, secret_key=server.secret_key[::-1])
    status, code, err = ts.client_error(lambda: bad.list_objects_v2(Bucket=s3_bucket))
    assert (status, code) == (403, "SignatureDoesNotMatch"), (status, code, err)
    assert err.get("Message"), err
    status, code, _ = ts.client_error(lambda: bad.put_object(Bucket=s3_bucket, Key="intruder.txt", Body=b"x"))
    assert (status, code) == (403, "SignatureDoesNotMatch")
    assert s3.list_objects_v2(Bucket=s3_bucket).get("Contents", []) == [], "a refused PUT stored something"
    # an unknown access key
    unknown = ts.s3_client(server, access_key="AKID" + "0" * 32)
    status, code, _ = ts.client_error(lambda: unknown.list_objects_v2(Bucket=s3_bucket))
    assert status == 403 and code in ("InvalidAccessKeyId", "SignatureDoesNotMatch"), (status, code)


# =====================================================================================================
# checksums: when_required over HTTP, aws-chunked with trailer over HTTPS
# =====================================================================================================
def test_when_required_checksums(server, client, tmp_path):
    s3 = ts.s3_client(server, request_checksum_calculation="when_required", response_checksum_validation="when_required")
    bucket = rf.new_bucket_name("s3wr")
    s3.create_bucket(Bucket=bucket)
    payload = b"no checksum headers\n" * 500
    s3.put_object(Bucket=bucket, Key="wr.txt", Body=payload)
    assert cos_bytes(client, bucket, "wr.txt") == payload
    data = ts.write_random(tmp_path / "wr.bin", 10 * MiB)
    s3.upload_file(str(tmp_path / "wr.bin"), bucket, "wr.bin")
    assert cos_bytes(client, bucket, "wr.bin") == data
    s3.delete_objects(Bucket=bucket, Delete={"Objects": [{"Key": "wr.txt"}], "Quiet": True})
    assert [o["Key"] for o in s3.list_objects_v2(Bucket=bucket)["Contents"]] == ["wr.bin"]


def test_aws_chunked_bodies_over_https_are_decoded(server, client, tmp_path):
    """Over HTTPS boto3 streams PutObject/UploadPart as aws-chunked with a CRC32 trailer
    (STREAMING-UNSIGNED-PAYLOAD-TRAILER, Transfer-Encoding: chunked). A TLS relay in front of the
    plain-HTTP server passes those bytes through unchanged."""
    cert, key = ts.self_signed_cert(tmp_path)
    proxy = ts.TlsProxy(server.port, cert, key)
    try:
        s3 = ts.s3_client(server, endpoint=f"https://127.0.0.1:{proxy.port}", verify=str(cert))
        bucket = rf.new_bucket_name("s3tls")
        s3.create_bucket(Bucket=bucket)
        payload = b"hello world"
        s3.put_object(Bucket=bucket, Key="chunked.txt", Body=payload)
        assert cos_bytes(client, bucket, "chunked.txt") == payload, "the aws-chunked framing was stored"
        data = ts.write_random(tmp_path / "tls.bin", 9 * MiB + 3)
        s3.upload_file(
            str(tmp_path / "tls.bin"), bucket, "tls.bin", Config=TransferConfig(multipart_threshold=5 * MiB, multipart_chunksize=5 * MiB)
        )
        assert cos_bytes(client, bucket, "tls.bin") == data
        assert s3.get_object(Bucket=bucket, Key="tls.bin")["Body"].read() == data
    finally:
        proxy.close()


# =====================================================================================================
# virtual-host style under REELFLOW_DOMAIN
# =====================================================================================================
DOMAIN = "s3.localtest"


def test_virtual_host_and_path_style_under_reelflow_domain(server_factory, monkeypatch):
    srv = server_factory(extra_env={"REELFLOW_DOMAIN": DOMAIN})
    ts.route_names_to_loopback(monkeypatch, {DOMAIN: srv.port})
    endpoint = f"http://{DOMAIN}:{srv.port}"
    vhost = ts.s3_client(srv, style="virtual", endpoint=endpoint)
    path = ts.s3_client(srv, style="path", endpoint=endpoint)
    bucket = rf.new_bucket_name("vh")

    vhost.create_bucket(Bucket=bucket, CreateBucketConfiguration={"LocationConstraint": rf.REGION})
    vhost.head_bucket(Bucket=bucket)
    vhost.put_object(Bucket=bucket, Key="v/obj.txt", Body=b"virtual-host")
    assert path.get_object(Bucket=bucket, Key="v/obj.txt")["Body"].read() == b"virtual-host"
    path.put_object(Bucket=bucket, Key="p/obj.txt", Body=b"path-style")
    assert vhost.get_object(Bucket=bucket, Key="p/obj.txt")["Body"].read() == b"path-style"
    assert [o["Key"] for o in vhost.list_objects_v2(Bucket=bucket)["Contents"]] == ["p/obj.txt", "v/obj.txt"]
    assert bucket in [b["Name"] for b in vhost.list_buckets()["Buckets"]]

    # a presigned virtual-host URL, fetched with plain requests (Host: <bucket>.s3.localtest:P)
    url = vhost.generate_presigned_url("get_object", Params={"Bucket": bucket, "Key": "v/obj.txt"}, ExpiresIn=300)
    assert url.startswith(f"http://{bucket}.{DOMAIN}:{srv.port}/"), url
    r = requests.get(url, timeout=30)
    assert r.status_code == 200 and r.content == b"virtual-host", (r.status_code, r.content[:300])

    # the same bucket through the COS SDK (IP mode): one namespace
    assert rf.list_keys(srv.client(), bucket) == ["p/obj.txt", "v/obj.txt"]
    vhost.delete_object(Bucket=bucket, Key="v/obj.txt")
    assert [o["Key"] for o in path.list_objects_v2(Bucket=bucket)["Contents"]] == ["p/obj.txt"]


# =====================================================================================================
# S3 uploads start workflows, once
# =====================================================================================================
def test_boto3_multipart_upload_into_workflow_prefix_starts_one_run(server, client, receiver, big_video):
    bucket = rf.create_bucket(client, "s3wf")
    url = receiver.url("s3-workflow")
    wid = ts.mediainfo_workflow(client, bucket, url, prefix="in/")
    s3 = ts.s3_client(server)
    s3.upload_file(str(big_video), bucket, "in/boto3.mp4")  # 30+ MB: multipart, 8 MB parts
    assert s3.head_object(Bucket=bucket, Key="in/boto3.mp4")["ContentLength"] == big_video.stat().st_size
    ts.assert_exactly_one_run(client, receiver, bucket, wid, url, "in/boto3.mp4")
