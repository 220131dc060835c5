"""Signatures and error documents: wrong or missing credentials are refused with 403, unknown ids
give 404 ResourceNotFound, bad content 400 InvalidArgument, and every error body is complete."""

from __future__ import annotations

import pytest
import requests
from qcloud_cos import CosServiceError

import reelflow_e2e as rf

UNKNOWN_WORKFLOW = "w" + "0" * 32
UNKNOWN_RUN = "i" + "0" * 32
UNKNOWN_TEMPLATE = "t1" + "0" * 32


def _assert_service_error(exc: CosServiceError, status: int, code: str | None = None) -> None:
    assert exc.get_status_code() == status, f"status {exc.get_status_code()}, want {status}: {exc.get_origin_msg()}"
    got = exc.get_error_code()
    # 'Unknown' is what the SDK reports when Code/Message/Resource/RequestId is missing or empty.
    assert got and got != "Unknown", f"incomplete error document: {exc.get_origin_msg()!r}"
    assert exc.get_error_msg(), exc.get_origin_msg()
    assert exc.get_request_id(), exc.get_origin_msg()
    if code is not None:
        assert got == code, f"error code {got!r}, want {code!r}"


def test_health_needs_no_signature(server):
    assert requests.get(f"{server.base_url}/_reelflow/health", timeout=5).status_code == 200


@pytest.mark.parametrize("who", ["wrong-secret-key", "unknown-secret-id"])
def test_wrong_credentials_are_refused(server, client, bucket, who):
    rf.upload(client, bucket, "auth/a.txt", b"secret")
    bad = server.client(secret_key="x" * 32) if who == "wrong-secret-key" else server.client(secret_id="AKID" + "y" * 32)
    calls = {
        "get_object": lambda: bad.get_object(Bucket=bucket, Key="auth/a.txt"),
        "put_object": lambda: bad.put_object(Bucket=bucket, Body=b"x", Key="auth/b.txt"),
        "list_objects": lambda: bad.list_objects(Bucket=bucket),
        "ci_get_workflow": lambda: bad.ci_get_workflow(Bucket=bucket),
        "ci_create_template": lambda: bad.ci_create_template(
            Bucket=bucket, Template={"Tag": "Snapshot", "Name": "nope", "Snapshot": {"Count": "1"}}
        ),
    }
    for name, call in calls.items():
        with pytest.raises(CosServiceError) as info:
            call()
        try:
            _assert_service_error(info.value, 403)
        except AssertionError as e:
            raise AssertionError(f"{name}: {e}") from None
    # nothing was written with the bad credentials
    assert rf.list_keys(client, bucket, "auth/") == ["auth/a.txt"]


def test_missing_authorization_is_refused_with_a_full_error(server, bucket):
    host = rf.cos_host(bucket)
    ci = requests.get(f"{server.base_url}/workflow", headers={"Host": host}, timeout=10)
    fields = rf.assert_full_error(ci, 403)
    assert "/workflow" in fields["Resource"], fields

    cos = requests.get(f"{server.base_url}/some/key.txt", headers={"Host": host}, timeout=10)
    rf.assert_full_error(cos, 403, request_id_headers=("x-ci-request-id", "x-cos-request-id"))


def test_expired_signature_is_refused(server, client, bucket):
    # get_auth signs q-sign-time = (now - 60);(now + Expired): a negative Expired is already over.
    headers = rf.signed_headers(client, "GET", bucket, "/workflowexecution/" + UNKNOWN_RUN, expired=-30)
    resp = requests.get(f"{server.base_url}/workflowexecution/{UNKNOWN_RUN}", headers=headers, timeout=10)
    rf.assert_full_error(resp, 403)


def test_tampered_request_is_refused(server, client, bucket):
    # A valid signature for one path must not authorise another.
    headers = rf.signed_headers(client, "GET", bucket, "/workflowexecution/" + UNKNOWN_RUN)
    resp = requests.get(f"{server.base_url}/workflow", headers=headers, timeout=10)
    rf.assert_full_error(resp, 403)


def test_signed_raw_request_is_accepted(server, client, bucket):
    # The control for the tests above: the same helper with a good signature gets through.
    headers = rf.signed_headers(client, "GET", bucket, "/workflowexecution/" + UNKNOWN_RUN)
    resp = requests.get(f"{server.base_url}/workflowexecution/{UNKNOWN_RUN}", headers=headers, timeout=10)
    rf.assert_full_error(resp, 404, "ResourceNotFound")


def test_unknown_ids_are_404_resource_not_found(server, client, bucket):
    calls = {
        "ci_update_workflow_state": lambda: client.ci_update_workflow_state(
            Bucket=bucket, WorkflowId=UNKNOWN_WORKFLOW, UpdateState="active"
        ),
        "ci_trigger_workflow": lambda: client.ci_trigger_workflow(
            Bucket=bucket, WorkflowId=UNKNOWN_WORKFLOW, Key="input/none.mp4"
        ),
        "ci_delete_workflow": lambda: client.ci_delete_workflow(Bucket=bucket, WorkflowId=UNKNOWN_WORKFLOW),
        "ci_get_workflowexecution": lambda: client.ci_get_workflowexecution(Bucket=bucket, RunId=UNKNOWN_RUN),
        "ci_delete_template": lambda: client.ci_delete_template(Bucket=bucket, TemplateId=UNKNOWN_TEMPLATE),
    }
    for name, call in calls.items():
        with pytest.raises(CosServiceError) as info:
            call()
        try:
            _assert_service_error(info.value, 404, "ResourceNotFound")
        except AssertionError as e:
            raise AssertionError(f"{name}: {e}") from None

    # the raw document and header, for one of them
    path = f"/workflow/{UNKNOWN_WORKFLOW}"
    headers = rf.signed_headers(client, "PUT", bucket, path, params={"active": ""})
    resp = requests.put(f"{server.base_url}{path}?active=", headers=headers, timeout=10)
    fields = rf.assert_full_error(resp, 404, "ResourceNotFound")
    assert UNKNOWN_WORKFLOW in fields["Resource"] or UNKNOWN_WORKFLOW in fields["Message"], fields


def test_invalid_topology_is_400_invalid_argument(client, bucket):
    tid = rf.create_transcode_template(client, bucket, "bad_topology", 256, 144)
    body = rf.workflow_body(
        "bad",
        {"Transcode_1": rf.transcode_node(tid, bucket, "out/${RunId}.${Ext}")},
        notify_url=None,
        # Start points at a node that is not declared in Nodes
        dependencies={"Start": "Transcode_1,Transcode_missing", "Transcode_1": "End"},
    )
    with pytest.raises(CosServiceError) as info:
        client.ci_create_workflow(Bucket=bucket, Body=body, ContentType="application/xml")
    _assert_service_error(info.value, 400, "InvalidArgument")
    assert "Transcode_missing" in info.value.get_error_msg(), info.value.get_error_msg()
