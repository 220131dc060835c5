"""Process lifecycle of `reelflow serve`: health, SIGTERM shutdown, and state kept in --data."""

from __future__ import annotations

import time

import requests

import reelflow_e2e as rf


def test_sigterm_shuts_down_cleanly_and_data_survives_a_restart(server_factory, tmp_path):
    data = tmp_path / "data"
    first = server_factory(data_dir=data)
    client = first.client()
    bucket = rf.create_bucket(client, "life")
    client.put_object(Bucket=bucket, Body=b"persisted", Key="keep/me.txt", Metadata={"x-cos-meta-k": "v"})
    tid = rf.create_transcode_template(client, bucket, "persisted_tpl", 256, 144)
    wid = rf.create_workflow(
        client,
        bucket,
        rf.workflow_body(
            "persisted", {"Transcode_1": rf.transcode_node(tid, bucket, "out/${RunId}.${Ext}")}, notify_url=None
        ),
    )

    started = time.monotonic()
    code = first.stop(timeout=10)
    assert code == 0, f"exit code after SIGTERM: {code} (None = had to be killed)\n{first.log_tail()}"
    assert time.monotonic() - started < 10
    try:
        requests.get(f"{first.base_url}/_reelflow/health", timeout=1)
        raise AssertionError("still answering after SIGTERM")
    except requests.ConnectionError:
        pass

    second = server_factory(data_dir=data, secret_id=first.secret_id, secret_key=first.secret_key)
    client = second.client()
    resp = client.get_object(Bucket=bucket, Key="keep/me.txt")
    assert resp["Body"].get_raw_stream().read() == b"persisted"
    assert rf.lower_keys({k: v for k, v in resp.items() if k != "Body"}).get("x-cos-meta-k") == "v"
    (listed,) = rf.as_list(client.ci_get_workflow(Bucket=bucket, Ids=wid).get("MediaWorkflowList"))
    assert listed["WorkflowId"] == wid and listed["Name"] == "persisted"
    templates = rf.as_list(client.ci_get_template(Bucket=bucket, Ids=tid).get("TemplateList"))
    assert [t["TemplateId"] for t in templates] == [tid]
