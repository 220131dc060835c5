"""Large transfers with cos-python-sdk-v5 1.9.44, the way its users move files: `upload_file`
(multipart above PartSize, resuming from ListMultipartUploads/ListParts), `download_file`
(ranged and parallel above PartSize), high-level `copy`, the low-level multipart calls and
their errors, and the exact response-header names the SDK indexes (api-reference-2.md §1).

IP mode (`CosConfig(IP=127.0.0.1, Port=P)`) as in the rest of the suite, Domain mode (default
endpoints, `*.myqcloud.com` routed to the server) where IP mode cannot work (`copy`,
`list_buckets`), see client-testing.md."""

from __future__ import annotations

import threading

import pytest
import requests
from qcloud_cos.cos_exception import CosServiceError

import reelflow_e2e as rf
import transfer_support as ts
from transfer_support import MiB


def service_error(fn) -> CosServiceError:
    with pytest.raises(CosServiceError) as info:
        fn()
    return info.value


def assert_service_error(fn, status: int, code: str) -> CosServiceError:
    e = service_error(fn)
    assert (e.get_status_code(), e.get_error_code()) == (status, code), (
        f"want HTTP {status} {code}, got HTTP {e.get_status_code()} {e.get_error_code()}: {e.get_digest_msg()}"
    )
    return e


def get_bytes(client, bucket: str, key: str) -> bytes:
    return client.get_object(Bucket=bucket, Key=key)["Body"].get_raw_stream().read()


def head_missing(client, bucket: str, key: str) -> bool:
    try:
        client.head_object(Bucket=bucket, Key=key)
    except CosServiceError as e:
        return e.get_status_code() == 404
    return False


# =====================================================================================================
# upload_file: multipart into a workflow prefix starts exactly one run
# =====================================================================================================
@pytest.mark.parametrize("part_size,threads", [(1, 4), (5, 5)], ids=["PartSize1-MAXThread4", "PartSize5"])
def test_upload_file_multipart_starts_one_run(client, receiver, big_video, part_size, threads):
    bucket = rf.create_bucket(client, "upf")
    url = receiver.url(f"upload-file-{part_size}")
    wid = ts.mediainfo_workflow(client, bucket, url, prefix="in/")
    data = big_video.read_bytes()
    assert len(data) >= 30 * MiB
    key = "in/big.mp4"

    resp = client.upload_file(Bucket=bucket, Key=key, LocalFilePath=str(big_video), PartSize=part_size, MAXThread=threads)
    assert resp.get("ETag"), f"Complete answered without an ETag: {resp}"

    head = client.head_object(Bucket=bucket, Key=key)
    assert head["Content-Length"] == str(len(data)), head
    assert head["x-cos-hash-crc64ecma"] == ts.crc64(data), "whole-object CRC64 after Complete"
    assert head["ETag"] == resp["ETag"] == ts.multipart_etag(ts.split_parts(data, part_size * MiB)), (
        head["ETag"],
        resp["ETag"],
    )
    assert rf.as_list(client.list_multipart_uploads(Bucket=bucket, Prefix=key).get("Upload")) == []

    ts.assert_exactly_one_run(client, receiver, bucket, wid, url, key)


# =====================================================================================================
# download_file, single GET and ranged/parallel
# =====================================================================================================
def test_download_file_small_and_ranged_parallel(client, bucket, tmp_path):
    small = ts.write_random(tmp_path / "small.bin", 3 * MiB + 17)
    big = ts.write_random(tmp_path / "big.bin", 30 * MiB + 5)
    client.put_object(Bucket=bucket, Key="dl/small.bin", Body=small)
    client.put_object(Bucket=bucket, Key="dl/big.bin", Body=big)

    # ≤ PartSize (20 MB default): HEAD then one GET
    client.download_file(Bucket=bucket, Key="dl/small.bin", DestFilePath=str(tmp_path / "small.out"))
    assert (tmp_path / "small.out").read_bytes() == small

    # > PartSize: HEAD, then parallel Range GETs; EnableCRC compares x-cos-hash-crc64ecma
    client.download_file(
        Bucket=bucket,
        Key="dl/big.bin",
        DestFilePath=str(tmp_path / "big.out"),
        PartSize=5,
        MAXThread=4,
        EnableCRC=True,
        DumpRecordDir=str(tmp_path / "records"),
    )
    assert (tmp_path / "big.out").read_bytes() == big


# =====================================================================================================
# exact header names (api-reference-2.md §1.6)
# =====================================================================================================
def test_response_header_names_are_exact(client, bucket):
    body = b"header spelling matters to cos-python-sdk-v5\n" * 1000
    put = client.put_object(Bucket=bucket, Key="h/obj.txt", Body=body, ContentType="text/plain")
    assert put.get("ETag") == f'"{ts.md5_hex(body)}"', f"put_object()['ETag']: response keys {sorted(put)}"
    assert put.get("x-cos-hash-crc64ecma") == ts.crc64(body), f"PUT response keys {sorted(put)}"

    head = client.head_object(Bucket=bucket, Key="h/obj.txt")
    want = ("Content-Length", "Content-Type", "ETag", "Last-Modified", "x-cos-hash-crc64ecma", "x-cos-request-id")
    missing = [h for h in want if h not in head]
    assert not missing, f"HEAD lacks exactly-spelled {missing}; got {sorted(head)}"
    assert head["Content-Length"] == str(len(body))
    assert head["ETag"] == put["ETag"]
    assert head["x-cos-hash-crc64ecma"] == ts.crc64(body)

    got = client.get_object(Bucket=bucket, Key="h/obj.txt")
    missing = [h for h in want if h not in got]
    assert not missing, f"GET lacks exactly-spelled {missing}; got {sorted(got)}"
    assert got["x-cos-hash-crc64ecma"] == ts.crc64(body)
    assert got["Body"].get_raw_stream().read() == body

    ranged = client.get_object(Bucket=bucket, Key="h/obj.txt", Range="bytes=10-19")
    assert ranged.get("Content-Range") == f"bytes 10-19/{len(body)}", f"ranged GET keys {sorted(ranged)}"
    assert ranged.get("Content-Length") == "10"
    assert ranged["Body"].get_raw_stream().read() == body[10:20]


# =====================================================================================================
# copy
# =====================================================================================================
def test_high_level_copy_in_domain_mode(server, monkeypatch, tmp_path):
    """`copy` HEADs the source on its own host name, so it needs Domain mode."""
    client = ts.cos_domain_client(server, monkeypatch)
    src, dst = rf.create_bucket(client, "cpsrc"), rf.create_bucket(client, "cpdst")
    data = ts.write_random(tmp_path / "src.bin", 12 * MiB + 3)
    client.put_object(Bucket=src, Key="dir/src.bin", Body=data, Metadata={"x-cos-meta-origin": "copy-test"})

    resp = client.copy(
        Bucket=dst, Key="copied/dst.bin", CopySource={"Bucket": src, "Key": "dir/src.bin", "Region": rf.REGION}
    )
    assert resp.get("ETag"), resp
    head = client.head_object(Bucket=dst, Key="copied/dst.bin")
    assert head["Content-Length"] == str(len(data))
    assert head["x-cos-hash-crc64ecma"] == ts.crc64(data)
    assert head.get("x-cos-meta-origin") == "copy-test", "CopyStatus=Copy keeps the source metadata"
    assert get_bytes(client, dst, "copied/dst.bin") == data

    # presigned URLs made in Domain mode work as given
    url = client.get_presigned_url(Bucket=dst, Key="copied/dst.bin", Method="GET", Expired=300)
    r = requests.get(url, timeout=60)
    assert r.status_code == 200 and r.content == data, (r.status_code, r.content[:300])


def test_list_buckets_in_domain_mode(server, monkeypatch):
    """`list_buckets` ignores IP/Port and asks service.cos.myqcloud.com (GET Service)."""
    client = ts.cos_domain_client(server, monkeypatch)
    mine = {rf.create_bucket(client, "lsb"), rf.create_bucket(client, "lsb")}
    resp = client.list_buckets()
    buckets = rf.as_list((resp.get("Buckets") or {}).get("Bucket"))
    names = {b.get("Name") for b in buckets}
    assert mine <= names, f"{mine - names} missing from ListBuckets: {resp}"
    for b in buckets:
        if b.get("Name") in mine:
            assert b.get("Location") == rf.REGION and b.get("CreationDate"), b
    assert (resp.get("Owner") or {}).get("ID"), resp


def test_upload_part_copy_with_source_ranges(client, bucket, tmp_path):
    data = ts.write_random(tmp_path / "src.bin", 12 * MiB)
    client.put_object(Bucket=bucket, Key="src.bin", Body=data)
    source = {"Bucket": bucket, "Key": "src.bin", "Region": rf.REGION}
    half = 6 * MiB
    upload_id = client.create_multipart_upload(Bucket=bucket, Key="swapped.bin")["UploadId"]
    # part 1 = second half, part 2 = first half: proves the ranges are honoured
    p1 = client.upload_part_copy(
        Bucket=bucket, Key="swapped.bin", PartNumber=1, UploadId=upload_id, CopySource=source,
        CopySourceRange=f"bytes={half}-{len(data) - 1}",
    )  # fmt: skip
    p2 = client.upload_part_copy(
        Bucket=bucket, Key="swapped.bin", PartNumber=2, UploadId=upload_id, CopySource=source,
        CopySourceRange=f"bytes=0-{half - 1}",
    )  # fmt: skip
    assert p1.get("ETag") == f'"{ts.md5_hex(data[half:])}"', p1
    assert p2.get("ETag") == f'"{ts.md5_hex(data[:half])}"', p2
    parts = client.list_parts(Bucket=bucket, Key="swapped.bin", UploadId=upload_id)
    assert [(p["PartNumber"], p["Size"]) for p in parts["Part"]] == [("1", str(half)), ("2", str(half))], parts
    done = client.complete_multipart_upload(
        Bucket=bucket,
        Key="swapped.bin",
        UploadId=upload_id,
        MultipartUpload={"Part": [{"PartNumber": 1, "ETag": p1["ETag"]}, {"PartNumber": 2, "ETag": p2["ETag"]}]},
    )
    want = data[half:] + data[:half]
    assert done.get("x-cos-hash-crc64ecma") == ts.crc64(want), f"Complete response keys {sorted(done)}"
    assert get_bytes(client, bucket, "swapped.bin") == want


# =====================================================================================================
# low-level multipart calls
# =====================================================================================================
def test_upload_part_list_parts_paging_and_overwrite(client, bucket):
    key = "mp/parts.bin"
    upload_id = client.create_multipart_upload(Bucket=bucket, Key=key)["UploadId"]
    assert upload_id
    parts = [bytes([n]) * MiB for n in range(1, 4)] + [b"tail" * 1000]
    for n, part in enumerate(parts, start=1):
        resp = client.upload_part(Bucket=bucket, Key=key, Body=part, PartNumber=n, UploadId=upload_id)
        assert resp.get("ETag") == f'"{ts.md5_hex(part)}"', f"UploadPart {n} headers {resp}"
        assert resp.get("x-cos-hash-crc64ecma") == ts.crc64(part), f"UploadPart {n} headers {resp}"

    page1 = client.list_parts(Bucket=bucket, Key=key, UploadId=upload_id, MaxParts=2)
    assert [p["PartNumber"] for p in page1["Part"]] == ["1", "2"], page1
    assert page1["IsTruncated"] == "true" and page1["NextPartNumberMarker"] == "2", page1
    page2 = client.list_parts(Bucket=bucket, Key=key, UploadId=upload_id, MaxParts=2, PartNumberMarker=2)
    assert [p["PartNumber"] for p in page2["Part"]] == ["3", "4"], page2
    assert page2["IsTruncated"] == "false", page2
    listed = {p["PartNumber"]: (p["ETag"], p["Size"]) for p in page1["Part"] + page2["Part"]}
    assert listed == {str(n): (f'"{ts.md5_hex(p)}"', str(len(p))) for n, p in enumerate(parts, start=1)}

    # uploading a part number again replaces it
    parts[1] = b"\xee" * MiB
    client.upload_part(Bucket=bucket, Key=key, Body=parts[1], PartNumber=2, UploadId=upload_id)
    again = client.list_parts(Bucket=bucket, Key=key, UploadId=upload_id)
    assert [(p["PartNumber"], p["ETag"]) for p in again["Part"]][1] == ("2", f'"{ts.md5_hex(parts[1])}"'), again
    assert len(again["Part"]) == 4

    client.complete_multipart_upload(
        Bucket=bucket,
        Key=key,
        UploadId=upload_id,
        MultipartUpload={"Part": [{"PartNumber": n, "ETag": f'"{ts.md5_hex(p)}"'} for n, p in enumerate(parts, 1)]},
    )
    assert get_bytes(client, bucket, key) == b"".join(parts)
    # a completed upload is gone
    assert_service_error(lambda: client.list_parts(Bucket=bucket, Key=key, UploadId=upload_id), 404, "NoSuchUpload")


def test_list_multipart_uploads_and_abort(client, bucket):
    ids = {}
    for key in ("mpu/a.bin", "mpu/b.bin", "other/c.bin"):
        ids[key] = client.create_multipart_upload(Bucket=bucket, Key=key)["UploadId"]
        client.upload_part(Bucket=bucket, Key=key, Body=b"x" * MiB, PartNumber=1, UploadId=ids[key])

    listed = client.list_multipart_uploads(Bucket=bucket, Prefix="mpu/")
    got = [(u["Key"], u["UploadId"]) for u in rf.as_list(listed.get("Upload"))]
    assert got == [("mpu/a.bin", ids["mpu/a.bin"]), ("mpu/b.bin", ids["mpu/b.bin"])], listed
    assert listed.get("IsTruncated") == "false", listed

    first = client.list_multipart_uploads(Bucket=bucket, MaxUploads=1)
    assert [u["Key"] for u in rf.as_list(first.get("Upload"))] == ["mpu/a.bin"], first
    assert first.get("IsTruncated") == "true", first
    rest = client.list_multipart_uploads(
        Bucket=bucket, KeyMarker=first["NextKeyMarker"], UploadIdMarker=first["NextUploadIdMarker"]
    )
    assert [u["Key"] for u in rf.as_list(rest.get("Upload"))] == ["mpu/b.bin", "other/c.bin"], rest

    key, upload_id = "mpu/b.bin", ids["mpu/b.bin"]
    client.abort_multipart_upload(Bucket=bucket, Key=key, UploadId=upload_id)
    assert_service_error(lambda: client.list_parts(Bucket=bucket, Key=key, UploadId=upload_id), 404, "NoSuchUpload")
    assert_service_error(
        lambda: client.upload_part(Bucket=bucket, Key=key, Body=b"y" * MiB, PartNumber=2, UploadId=upload_id),
        404,
        "NoSuchUpload",
    )
    assert_service_error(
        lambda: client.complete_multipart_upload(
            Bucket=bucket, Key=key, UploadId=upload_id, MultipartUpload={"Part": [{"PartNumber": 1, "ETag": '"x"'}]}
        ),
        404,
        "NoSuchUpload",
    )
    assert_service_error(lambda: client.abort_multipart_upload(Bucket=bucket, Key=key, UploadId=upload_id), 404, "NoSuchUpload")
    left = client.list_multipart_uploads(Bucket=bucket, Prefix="mpu/")
    assert [u["Key"] for u in rf.as_list(left.get("Upload"))] == ["mpu/a.bin"], left
    assert head_missing(client, bucket, key)
    assert rf.list_keys(client, bucket) == [], "in-progress and aborted uploads are not objects"


def test_initiate_metadata_is_kept_on_the_object(client, bucket):
    key = "meta/obj.bin"
    upload_id = client.create_multipart_upload(
        Bucket=bucket,
        Key=key,
        ContentType="application/x-reelflow-test",
        Metadata={"x-cos-meta-origin": "initiate", "x-cos-meta-run": "42"},
    )["UploadId"]
    parts = [b"a" * MiB, b"b" * 1000]
    etags = [client.upload_part(Bucket=bucket, Key=key, Body=p, PartNumber=n, UploadId=upload_id)["ETag"] for n, p in enumerate(parts, 1)]
    client.complete_multipart_upload(
        Bucket=bucket, Key=key, UploadId=upload_id,
        MultipartUpload={"Part": [{"PartNumber": n, "ETag": e} for n, e in enumerate(etags, 1)]},
    )  # fmt: skip
    head = client.head_object(Bucket=bucket, Key=key)
    assert head.get("x-cos-meta-origin") == "initiate" and head.get("x-cos-meta-run") == "42", head
    assert rf.media_type(head.get("Content-Type")) == "application/x-reelflow-test", head
    assert head["Content-Length"] == str(MiB + 1000)


def _two_part_upload(client, bucket, key, sizes):
    upload_id = client.create_multipart_upload(Bucket=bucket, Key=key)["UploadId"]
    etags = []
    for n, size in enumerate(sizes, 1):
        etags.append(client.upload_part(Bucket=bucket, Key=key, Body=bytes([n]) * size, PartNumber=n, UploadId=upload_id)["ETag"])
    return upload_id, etags


@pytest.mark.parametrize("case", ["EntityTooSmall", "InvalidPartOrder", "InvalidPart"])
def test_complete_errors(client, bucket, case):
    key = f"bad/{case}.bin"
    sizes = [100 * 1024, 100 * 1024] if case == "EntityTooSmall" else [MiB, MiB]
    upload_id, etags = _two_part_upload(client, bucket, key, sizes)
    listed = [{"PartNumber": 1, "ETag": etags[0]}, {"PartNumber": 2, "ETag": etags[1]}]
    if case == "InvalidPartOrder":
        listed.reverse()
    elif case == "InvalidPart":
        listed[1]["ETag"] = '"0123456789abcdef0123456789abcdef"'
    assert_service_error(
        lambda: client.complete_multipart_upload(Bucket=bucket, Key=key, UploadId=upload_id, MultipartUpload={"Part": listed}),
        400,
        case,
    )
    assert head_missing(client, bucket, key), f"a refused Complete ({case}) must not create the object"
    # the upload is still there and can be aborted cleanly
    assert len(client.list_parts(Bucket=bucket, Key=key, UploadId=upload_id)["Part"]) == 2
    client.abort_multipart_upload(Bucket=bucket, Key=key, UploadId=upload_id)


# =====================================================================================================
# SIGKILL between parts: resume with upload_file, or abort; never a mixed object
# =====================================================================================================
def test_sigkill_between_parts_then_resume_or_abort(server_factory, tmp_path):
    data_dir = tmp_path / "data"
    first = server_factory(data_dir=data_dir)
    client = first.client()
    bucket = rf.create_bucket(client, "mpkill")
    data = ts.write_random(tmp_path / "file.bin", 5 * MiB + 512 * 1024)  # PartSize=1: 6 parts
    chunks = ts.split_parts(data, MiB)

    resumed_id = client.create_multipart_upload(Bucket=bucket, Key="resume.bin")["UploadId"]
    for n in (1, 2):
        client.upload_part(Bucket=bucket, Key="resume.bin", Body=chunks[n - 1], PartNumber=n, UploadId=resumed_id)
    aborted_id = client.create_multipart_upload(Bucket=bucket, Key="aborted.bin")["UploadId"]
    client.upload_part(Bucket=bucket, Key="aborted.bin", Body=chunks[0], PartNumber=1, UploadId=aborted_id)

    first.kill()  # SIGKILL between parts
    second = server_factory(data_dir=data_dir, secret_id=first.secret_id, secret_key=first.secret_key, port=first.port)
    client = second.client()

    uploads = rf.as_list(client.list_multipart_uploads(Bucket=bucket).get("Upload"))
    assert sorted((u["Key"], u["UploadId"]) for u in uploads) == sorted(
        [("aborted.bin", aborted_id), ("resume.bin", resumed_id)]
    ), f"uploads in progress did not survive SIGKILL: {uploads}"
    assert head_missing(client, bucket, "resume.bin") and head_missing(client, bucket, "aborted.bin")

    # upload_file lists the upload and its parts, skips parts 1-2 and sends the rest
    sent: list[int] = []
    lock = threading.Lock()
    real_upload_part = client.upload_part

    def counting_upload_part(*args, **kwargs):
        with lock:
            sent.append(args[3] if len(args) > 3 else kwargs["PartNumber"])
        return real_upload_part(*args, **kwargs)

    client.upload_part = counting_upload_part
    client.upload_file(Bucket=bucket, Key="resume.bin", LocalFilePath=str(tmp_path / "file.bin"), PartSize=1, MAXThread=2)
    assert sorted(sent) == [3, 4, 5, 6], f"upload_file did not resume upload {resumed_id}: it sent parts {sorted(sent)}"
    assert get_bytes(client, bucket, "resume.bin") == data
    assert client.head_object(Bucket=bucket, Key="resume.bin")["x-cos-hash-crc64ecma"] == ts.crc64(data)

    client.abort_multipart_upload(Bucket=bucket, Key="aborted.bin", UploadId=aborted_id)
    assert_service_error(
        lambda: client.list_parts(Bucket=bucket, Key="aborted.bin", UploadId=aborted_id), 404, "NoSuchUpload"
    )
    assert head_missing(client, bucket, "aborted.bin")
    assert rf.as_list(client.list_multipart_uploads(Bucket=bucket).get("Upload")) == []
    assert rf.list_keys(client, bucket) == ["resume.bin"]


# =====================================================================================================
# A refused upload is answered, never a dropped connection (the server reads the unread body)
# =====================================================================================================
def test_refused_parts_get_an_answer_not_a_reset(client, bucket):
    upload = client.create_multipart_upload(Bucket=bucket, Key="gone.bin")["UploadId"]
    client.abort_multipart_upload(Bucket=bucket, Key="gone.bin", UploadId=upload)
    body = b"x" * MiB
    for _ in range(20):
        assert_service_error(
            lambda: client.upload_part(Bucket=bucket, Key="gone.bin", Body=body, PartNumber=1, UploadId=upload),
            404,
            "NoSuchUpload",
        )
