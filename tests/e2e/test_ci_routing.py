"""CI calls and object sub-resources reelflow does not serve are refused with 501 NotImplemented,
never mistaken for object or bucket requests (a PUT /playKey storing an object, GET /?style
answering a listing, PUT /obj?acl overwriting the object with the ACL document…).

cos-python-sdk-v5 1.9.44 in IP mode sends CI calls to the `.cos.` host, where these paths look
like object keys; in Domain mode (client-testing.md) they go to `<bucket>.ci.<region>…`
(`.pic.` for image styles). In both, each call must answer 501 with a full CI <Error> and leave
the bucket exactly as it was."""

from __future__ import annotations

import pytest
import requests
from qcloud_cos.cos_exception import CosClientError, CosServiceError

import compat_support as cs
import reelflow_e2e as rf
import transfer_support as ts

QUEUE = "p" + "0" * 32
OBJECT = "media/in.mp4"
OBJECT_BODY = b"not really a video, but an object that must stay as it is\n"

# Bucket-scoped CI calls of the SDK that reelflow does not implement (method, path on the .cos. host).
UNSERVED_CI_CALLS = {
    # HLS play keys: GET/PUT /playKey
    "ci_get_hls_play_key": lambda c, b: c.ci_get_hls_play_key(Bucket=b),
    "ci_update_hls_play_key": lambda c, b: c.ci_update_hls_play_key(
        Bucket=b, MasterPlayKey="a" * 32, BackupPlayKey="b" * 32
    ),
    # queues of other CI products: /picqueue, /ai_queue, /asrqueue, /docqueue
    "ci_get_media_pic_queue": lambda c, b: c.ci_get_media_pic_queue(Bucket=b),
    "ci_update_media_pic_queue": lambda c, b: c.ci_update_media_pic_queue(
        Bucket=b, QueueId=QUEUE, Request={"Name": "pic", "State": "Active"}
    ),
    "ci_get_ai_queue": lambda c, b: c.ci_get_ai_queue(Bucket=b),
    "ci_update_ai_queue": lambda c, b: c.ci_update_ai_queue(Bucket=b, QueueId=QUEUE, Request={"Name": "ai", "State": "Active"}),
    "ci_get_asr_queue": lambda c, b: c.ci_get_asr_queue(Bucket=b),
    "ci_update_asr_queue": lambda c, b: c.ci_update_asr_queue(Bucket=b, QueueId=QUEUE, Request={"Name": "asr", "State": "Active"}),
    "ci_get_doc_queue": lambda c, b: c.ci_get_doc_queue(Bucket=b),
    # product switches: POST/DELETE /asrbucket, /ai_bucket, /picbucket
    "ci_open_asr_bucket": lambda c, b: c.ci_open_asr_bucket(Bucket=b),
    "ci_close_asr_bucket": lambda c, b: c.ci_close_asr_bucket(Bucket=b),
    "ci_open_ai_bucket": lambda c, b: c.ci_open_ai_bucket(Bucket=b),
    "ci_open_pic_bucket": lambda c, b: c.ci_open_pic_bucket(Bucket=b),
    # job families: /asr_jobs, /pic_jobs, /doc_jobs, /file_jobs, /text/auditing
    "ci_list_asr_jobs": lambda c, b: c.ci_list_asr_jobs(Bucket=b),
    "ci_get_asr_job": lambda c, b: c.ci_get_asr_job(Bucket=b, JobID="s" + "0" * 32),
    "ci_create_media_pic_jobs": lambda c, b: c.ci_create_media_pic_jobs(
        Bucket=b,
        Jobs={
            "Tag": "PicProcess",
            "Input": {"Object": OBJECT},
            "Operation": {"TemplateId": "t1" + "0" * 32, "Output": {"Region": rf.REGION, "Bucket": b, "Object": "pic/out.jpg"}},
        },
    ),
    "ci_create_doc_job": lambda c, b: c.ci_create_doc_job(
        Bucket=b, InputObject="doc/in.docx", OutputBucket=b, OutputRegion=rf.REGION, OutputObject="doc/${Page}.jpg"
    ),
    "ci_create_file_hash_job": lambda c, b: c.ci_create_file_hash_job(
        Bucket=b, InputObject=OBJECT, FileHashCodeConfig={"Type": "MD5"}
    ),
    "ci_auditing_text_submit": lambda c, b: c.ci_auditing_text_submit(Bucket=b, Content="hello".encode()),
    # image styles: GET/PUT /?style on the bucket
    "ci_get_image_style": lambda c, b: c.ci_get_image_style(Bucket=b, Request={"StyleName": "thumb"}),
    "ci_put_image_style": lambda c, b: c.ci_put_image_style(
        Bucket=b, Request={"StyleName": "thumb", "StyleBody": "imageMogr2/thumbnail/100x"}
    ),
    # document preview on an object: GET /<key>?ci-process=doc-preview
    "ci_doc_preview_process": lambda c, b: c.ci_doc_preview_process(Bucket=b, Key=OBJECT),
}


# In IP mode the SDK sends these without the bucket's Host (Host: 127.0.0.1:P, path /playKey…):
# no server can tell which bucket they are for, so they are exercised in Domain mode only.
NO_BUCKET_HOST_IN_IP_MODE = {
    "ci_get_hls_play_key",
    "ci_open_asr_bucket",
    "ci_close_asr_bucket",
    "ci_open_ai_bucket",
    "ci_open_pic_bucket",
}
CI_CASES = [("ip", n) for n in UNSERVED_CI_CALLS if n not in NO_BUCKET_HOST_IN_IP_MODE] + [
    ("domain", n) for n in UNSERVED_CI_CALLS
]


def snapshot(client, bucket: str) -> list[tuple[str, str, str]]:
    resp = client.list_objects(Bucket=bucket, MaxKeys=1000)
    return [(o["Key"], o["Size"], o["ETag"]) for o in rf.as_list(resp.get("Contents"))]


@pytest.fixture(scope="module")
def routed_bucket(client) -> str:
    bucket = rf.create_bucket(client, "route")
    client.put_object(Bucket=bucket, Key=OBJECT, Body=OBJECT_BODY)
    client.put_object(Bucket=bucket, Key="keep.txt", Body=b"keep")
    return bucket


def expect_501(client, bucket: str, name: str, call, clean_ci_error: bool) -> None:
    """Runs `call`: it must raise CosServiceError 501 NotImplemented and leave the bucket as it was."""
    before = snapshot(client, bucket)
    error, outcome = None, None
    try:
        result = call()
        outcome = f"succeeded (result {str(result)[:200]})"
    except CosServiceError as exc:
        error = exc
    except CosClientError as exc:
        outcome = f"got no HTTP answer: the connection was dropped ({exc!r})"
    except Exception as exc:  # noqa: BLE001 - e.g. an empty 200 the SDK cannot parse as XML
        outcome = f"got a 2xx answer the SDK could not parse ({exc!r})"
    after = snapshot(client, bucket)
    changed = sorted(set(after) ^ set(before))
    problem = f"; the bucket changed: {changed}" if changed else ""
    assert outcome is None, f"{name} {outcome}; want HTTP 501 NotImplemented{problem}"
    if clean_ci_error:
        cs.assert_clean_ci_error(error, 501, "NotImplemented")
    else:
        got = (error.get_status_code(), error.get_error_code())
        assert got == (501, "NotImplemented"), f"{name}: HTTP {got[0]} {got[1]}: {error.get_digest_msg()}"
    assert not changed, f"{name} changed the bucket: {changed}"
    assert client.get_object(Bucket=bucket, Key=OBJECT)["Body"].get_raw_stream().read() == OBJECT_BODY


@pytest.mark.parametrize("mode,name", CI_CASES, ids=[f"{m}-{n}" for m, n in CI_CASES])
def test_unserved_ci_call_is_501_and_writes_nothing(server, client, routed_bucket, monkeypatch, mode, name):
    caller = client if mode == "ip" else ts.cos_domain_client(server, monkeypatch)
    expect_501(client, routed_bucket, name, lambda: UNSERVED_CI_CALLS[name](caller, routed_bucket), clean_ci_error=True)


# --- object sub-resources -------------------------------------------------------------------------
SUBRESOURCE_CALLS = {
    "put_object_acl": lambda c, b, k: c.put_object_acl(Bucket=b, Key=k, ACL="public-read"),
    "get_object_acl": lambda c, b, k: c.get_object_acl(Bucket=b, Key=k),
    "put_object_tagging": lambda c, b, k: c.put_object_tagging(
        Bucket=b, Key=k, Tagging={"TagSet": {"Tag": [{"Key": "k", "Value": "v"}]}}
    ),
    "get_object_tagging": lambda c, b, k: c.get_object_tagging(Bucket=b, Key=k),
    "delete_object_tagging": lambda c, b, k: c.delete_object_tagging(Bucket=b, Key=k),
    "restore_object": lambda c, b, k: c.restore_object(
        Bucket=b, Key=k, RestoreRequest={"Days": 1, "CASJobParameters": {"Tier": "Standard"}}
    ),
    # on a key that does not exist: must not create it
    "append_object-new-key": lambda c, b, k: c.append_object(Bucket=b, Key="appended.txt", Position=0, Data=b"appended"),
    "put_object_tagging-new-key": lambda c, b, k: c.put_object_tagging(
        Bucket=b, Key="tagged-new.txt", Tagging={"TagSet": {"Tag": [{"Key": "k", "Value": "v"}]}}
    ),
}


@pytest.mark.parametrize("name", list(SUBRESOURCE_CALLS))
def test_unknown_object_subresource_is_501_and_writes_nothing(client, routed_bucket, name):
    expect_501(client, routed_bucket, name, lambda: SUBRESOURCE_CALLS[name](client, routed_bucket, OBJECT), clean_ci_error=False)


RAW_SUBRESOURCES = [
    ("PUT", OBJECT, {"acl": ""}, b'<AccessControlPolicy><Owner><ID>x</ID></Owner></AccessControlPolicy>'),
    ("PUT", OBJECT, {"tagging": ""}, b"<Tagging><TagSet><Tag><Key>k</Key><Value>v</Value></Tag></TagSet></Tagging>"),
    ("PUT", "raw/new.txt", {"acl": ""}, b"<AccessControlPolicy/>"),
    ("POST", OBJECT, {"restore": ""}, b"<RestoreRequest><Days>1</Days></RestoreRequest>"),
    ("GET", "", {"acl": ""}, b""),
    ("PUT", "", {"lifecycle": ""}, b"<LifecycleConfiguration/>"),
]


@pytest.mark.parametrize(
    "method,key,params,body", RAW_SUBRESOURCES, ids=[f"{m}-{k or 'bucket'}-{next(iter(p))}" for m, k, p, _ in RAW_SUBRESOURCES]
)
def test_raw_signed_subresource_requests_are_501(server, client, routed_bucket, method, key, params, body):
    before = snapshot(client, routed_bucket)
    headers = rf.signed_headers(client, method, routed_bucket, "/" + key if key else "/", params)
    r = requests.request(method, f"{server.base_url}/{key}", params=params, data=body, headers=headers, timeout=30)
    fields = rf.assert_full_error(r, 501, "NotImplemented", ("x-ci-request-id", "x-cos-request-id"))
    assert fields["Code"] == "NotImplemented"
    assert snapshot(client, routed_bucket) == before, f"{method} /{key}?{next(iter(params))} changed the bucket"
    assert client.get_object(Bucket=routed_bucket, Key=OBJECT)["Body"].get_raw_stream().read() == OBJECT_BODY
