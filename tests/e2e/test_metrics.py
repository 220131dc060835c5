"""Prometheus metrics of a real server, parsed with the reference Python parser
(`prometheus_client.parser.text_string_to_metric_families`): a workflow runs a MediaInfo task,
then `/_reelflow/metrics` shows the run and the task by state, the task duration histogram of
the node type, the queue gauges, the HTTP latency of the upload and the callback and node
series. The signed path refuses an unsigned scrape (403); the separate `metrics_listen`
listener serves the same text without a signature."""

from __future__ import annotations

import requests
from prometheus_client.parser import text_string_to_metric_families

import reelflow_e2e as rf
from conftest import free_port


def families(text: str) -> dict:
    found = {}
    for family in text_string_to_metric_families(text):
        assert family.name not in found, f"family {family.name} appears twice"
        found[family.name] = family
    return found


def value(fams: dict, family: str, sample: str, **labels: str) -> float | None:
    for s in fams[family].samples:
        if s.name == sample and all(s.labels.get(k) == v for k, v in labels.items()):
            return s.value
    return None


def test_metrics_signed_and_on_the_separate_listener(server_factory, media):
    port = free_port()
    srv = server_factory(extra_env={"REELFLOW_METRICS_LISTEN": f"127.0.0.1:{port}"})
    client = srv.client()
    bucket = rf.create_bucket(client, "metrics")
    body = rf.workflow_body("metrics", {"MediaInfo_1": {"Type": "MediaInfo", "Operation": {}}}, notify_url=None)
    rf.create_workflow(client, bucket, body)
    rf.upload(client, bucket, "input/a.mp4", media.video_bytes())

    open_url = f"http://127.0.0.1:{port}/_reelflow/metrics"

    def finished():
        r = requests.get(open_url, timeout=5)
        assert r.status_code == 200, r.text
        fams = families(r.text)
        return fams if value(fams, "reelflow_runs", "reelflow_runs", state="Success") == 1 else None

    fams = rf.eventually(finished, 60, 0.3, "the run to show as Success in the metrics")

    assert fams["reelflow_runs"].type == "gauge"
    assert value(fams, "reelflow_runs", "reelflow_runs", state="Running") == 0
    assert value(fams, "reelflow_tasks", "reelflow_tasks", node_type="MediaInfo", state="Success") == 1

    durations = fams["reelflow_task_duration_seconds"]
    assert durations.type == "histogram"
    labels = {"node_type": "MediaInfo", "outcome": "success"}
    assert value(fams, durations.name, "reelflow_task_duration_seconds_count", **labels) == 1
    assert value(fams, durations.name, "reelflow_task_duration_seconds_bucket", le="+Inf", **labels) == 1
    assert 0 < value(fams, durations.name, "reelflow_task_duration_seconds_sum", **labels) < 60

    depth = [s for s in fams["reelflow_queue_depth"].samples if s.labels.get("bucket") == bucket]
    assert len(depth) == 1 and depth[0].value == 0, depth
    assert fams["reelflow_queue_oldest_waiting_age_seconds"].type == "gauge"

    http = fams["reelflow_http_request_duration_seconds"]
    assert http.type == "histogram"
    uploads = value(fams, http.name, "reelflow_http_request_duration_seconds_count", route="object", method="PUT", status="200")
    assert uploads == 1, http.samples
    ci = value(fams, http.name, "reelflow_http_request_duration_seconds_count", route="ci", method="POST", status="200")
    assert ci == 1, "the workflow creation is a CI call"

    # The notifier's counters (the parser names a counter family without `_total`) and the
    # node registry are part of the same text.
    assert fams["reelflow_callback_attempts"].type == "counter"
    assert fams["reelflow_node_up"].samples[0].value == 1

    # The API listener wants a signature.
    unsigned = requests.get(f"{srv.base_url}/_reelflow/metrics", timeout=5)
    assert unsigned.status_code == 403, unsigned.text
    headers = rf.signed_headers(client, "GET", bucket, "/_reelflow/metrics")
    signed = requests.get(f"{srv.base_url}/_reelflow/metrics", headers=headers, timeout=5)
    assert signed.status_code == 200, signed.text
    assert signed.headers["content-type"].startswith("text/plain; version=0.0.4")
    again = families(signed.text)
    assert value(again, "reelflow_runs", "reelflow_runs", state="Success") == 1
    # Scrapes on the separate listener are not API traffic: no `metrics` route was counted
    # before the signed ones.
    assert value(again, http.name, "reelflow_http_request_duration_seconds_count", route="metrics", method="GET", status="403") == 1
