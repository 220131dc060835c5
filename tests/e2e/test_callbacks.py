"""Issue #5: callbacks users can trust — retried, signed, SSRF-safe, observable, replayable and
durable across a SIGKILL — checked from the outside with real receivers on loopback, the
official SDK, the `reelflow callbacks` CLI and an independent Python `hmac` verifier.

Servers started here use short retry schedules so the suite stays fast. SSRF targets such as
169.254.169.254 and 10.0.0.1 are only ever *refused*: the refusal happens before any connection.
"""

from __future__ import annotations

import time

import pytest
import requests

import callback_tools as ct
import reelflow_e2e as rf

FAST_ENV = {
    "REELFLOW_CALLBACK_RETRY_SCHEDULE": "200ms,400ms",
    "REELFLOW_CALLBACK_TIMEOUT_SECS": "1",
    "REELFLOW_CALLBACK_ALLOW_CIDRS": "127.0.0.0/8,::1",
    # no server-wide secret: every bucket gets its own generated one
    "REELFLOW_CALLBACK_SECRET": "",
}


@pytest.fixture(scope="module")
def fast(server_factory):
    return server_factory(extra_env=FAST_ENV)


@pytest.fixture(scope="module")
def strict(server_factory):
    """A server whose allow-list is empty: only public addresses may be called."""
    return server_factory(extra_env={**FAST_ENV, "REELFLOW_CALLBACK_ALLOW_CIDRS": ""})


@pytest.fixture(scope="module")
def hooks():
    r = ct.ScriptedReceiver()
    yield r
    r.close()


@pytest.fixture
def fbucket(fast):
    return rf.create_bucket(fast.client(), "cb")


def _run_once(server, bucket, url, media, key="input/a.mp4", name="cb") -> tuple[str, str]:
    """A workflow posting to `url`, one upload; returns (workflow id, run id)."""
    client = server.client()
    wid = ct.workflow(client, bucket, url, name=name)
    rf.upload(client, bucket, key, media.video_bytes())
    (run_id,) = ct.run_ids(client, bucket, wid)
    return wid, run_id


# --- retries -----------------------------------------------------------------------------------
def test_500_twice_then_200_is_delivered_once_on_the_third_attempt(fast, fbucket, hooks, media):
    url = hooks.url("retry")
    hooks.script(url, [500, 500, 200])
    wid, run_id = _run_once(fast, fbucket, url, media)
    hits = hooks.wait_hits(url, 3)
    time.sleep(1.0)  # past every retry step: a fourth POST would have arrived
    assert [h.action for h in hooks.hits(url)] == [500, 500, 200]
    assert len({h.header("webhook-id") for h in hits}) == 1, "webhook-id stable across retries"
    assert hits[0].header("webhook-id") == f"msg_{run_id}_workflowfinish"
    assert len({h.body for h in hits}) == 1, "identical body on every attempt"
    secret = ct.cli_json(fast, "secret", "show", f"--bucket={fbucket}")["secret"]
    assert all(ct.verifies(h, secret) for h in hits)

    m = ct.wait_message(fast, hits[0].header("webhook-id"), lambda m: m["state"] == "Delivered", "delivered")
    assert m["attempt_count"] == 3 and m["workflow_id"] == wid and m["bucket"] == fbucket
    verdicts = [a["verdict"] for a in m["attempts"]]
    assert verdicts == ["Retry", "Retry", "Delivered"], verdicts
    assert [a["status"] for a in m["attempts"]] == [500, 500, 200]
    assert m["attempts"][0]["response_body"] == "answered 500"
    assert m["body"].encode() == hits[0].body


def test_a_timeout_is_recorded_and_retried(fast, fbucket, hooks, media):
    url = hooks.url("slow")
    hooks.script(url, [("sleep", 3), 200])  # REELFLOW_CALLBACK_TIMEOUT_SECS=1
    _, run_id = _run_once(fast, fbucket, url, media)
    m = ct.message_of_run(fast, run_id)
    m = ct.wait_message(fast, m["id"], lambda m: m["state"] == "Delivered", "delivered after a timeout")
    first, second = m["attempts"][:2]
    assert (first["error_kind"], first["status"], first["verdict"]) == ("timeout", None, "Retry")
    assert 900 <= first["duration_ms"] < 2500, first
    assert second["verdict"] == "Delivered"


def test_429_retry_after_is_honoured_within_twice_the_base(fast, fbucket, hooks, media):
    url = hooks.url("busy")
    hooks.script(url, [("status", 429, {"Retry-After": "5"}), 200])
    _run_once(fast, fbucket, url, media)
    first, second = hooks.wait_hits(url, 2)
    gap = second.at - first.at
    # Schedule 200ms,400ms: a 429 raises the 200 ms base to the 400 ms floor, and Retry-After: 5
    # is clamped to 2 × 400 ms.
    assert 0.7 <= gap <= 1.6, gap


def test_redirects_are_not_followed_and_the_message_is_exhausted_visibly(fast, fbucket, hooks, media):
    url = hooks.url("moved")
    target = hooks.url("target")
    hooks.script(url, [("status", 302, {"Location": target})] * 3)
    _, run_id = _run_once(fast, fbucket, url, media)
    m = ct.message_of_run(fast, run_id)
    m = ct.wait_message(fast, m["id"], lambda m: m["state"] == "Exhausted", "exhausted")
    assert [a["error_kind"] for a in m["attempts"]] == ["redirect"] * 3
    assert m["attempts"][-1]["verdict"] == "Exhausted"
    assert "not followed" in m["last_error"], m["last_error"]
    assert len(hooks.hits(url)) == 3 and hooks.hits(target) == [], "the Location was never requested"
    assert m["id"] in [x["id"] for x in ct.messages(fast, bucket=fbucket, state="Exhausted")]


def test_connections_closed_mid_response_are_retried(fast, fbucket, hooks, media):
    url = hooks.url("broken")
    hooks.script(url, ["partial", "close", 200])
    _, run_id = _run_once(fast, fbucket, url, media)
    m = ct.message_of_run(fast, run_id)
    m = ct.wait_message(fast, m["id"], lambda m: m["state"] == "Delivered", "delivered after broken answers")
    kinds = [a["error_kind"] for a in m["attempts"]]
    assert kinds == ["incomplete_response", "connection", None], kinds
    assert m["attempts"][0]["status"] == 200, "the broken answer had a 200 status line"


# --- durability ----------------------------------------------------------------------------------
def test_sigkill_with_messages_pending_and_in_flight_loses_none(server_factory, hooks, media, tmp_path):
    env = {**FAST_ENV, "REELFLOW_CALLBACK_RETRY_SCHEDULE": "1s,1s,1s,1s,1s,1s,1s,1s"}
    first = server_factory(data_dir=tmp_path / "data", extra_env=env)
    client = first.client()
    bucket = rf.create_bucket(client, "kill")
    failing = hooks.url("failing")  # answers 503 until healed: mid-retry at the kill
    stuck = hooks.url("stuck")  # its first request hangs: in flight at the kill
    hooks.script(failing, [503] * 100)
    hooks.script(stuck, [("sleep", 30)])
    wf_failing = ct.workflow(client, bucket, failing, prefix="f/", name="failing")
    wf_stuck = ct.workflow(client, bucket, stuck, prefix="s/", name="stuck")
    for i in range(3):
        rf.upload(client, bucket, f"f/{i}.mp4", media.video_bytes())
    rf.upload(client, bucket, "s/0.mp4", media.video_bytes())
    failing_runs = ct.run_ids(client, bucket, wf_failing, n=3)
    hooks.wait_hits(failing, 4)  # every message failed at least once, some are being retried
    hooks.wait_hits(stuck, 1)

    first.kill()  # SIGKILL
    hooks.script(failing, [])  # heal the receiver while the server is down
    second = server_factory(
        data_dir=tmp_path / "data",
        secret_id=first.secret_id,
        secret_key=first.secret_key,
        port=first.port,
        extra_env=env,
    )
    expected = {f"msg_{r}_workflowfinish" for r in failing_runs}

    def delivered_ids() -> set[str]:
        return {h.header("webhook-id") for h in hooks.hits(failing) if h.action == 200}

    rf.eventually(lambda: delivered_ids() == expected, 30, 0.3, "every failing message delivered")
    rf.eventually(lambda: any(h.action == 200 for h in hooks.hits(stuck)), 30, 0.3, "the in-flight one")
    for run_id in failing_runs:
        m = ct.show(second, f"msg_{run_id}_workflowfinish")
        assert m["state"] == "Delivered", m
    time.sleep(1.5)
    oks = [h.header("webhook-id") for h in hooks.hits(failing) if h.action == 200]
    assert sorted(oks) == sorted(expected), "a delivered callback is never sent again"


# --- signatures --------------------------------------------------------------------------------
def test_bucket_secrets_and_rotation_verify_with_python_hmac(fast, hooks, media):
    client = fast.client()
    bucket, other = rf.create_bucket(client, "sig"), rf.create_bucket(client, "sig")
    url = hooks.url("sig")
    wid = ct.workflow(client, bucket, url)
    rf.upload(client, bucket, "input/0.mp4", media.video_bytes())
    (before,) = hooks.wait_hits(url, 1)

    info = ct.cli_json(fast, "secret", "show", f"--bucket={bucket}")
    assert info["source"] == "bucket" and info["secret"].startswith("whsec_")
    assert ct.cli_json(fast, "secret", "show", f"--bucket={other}")["secret"] != info["secret"]
    assert ct.verifies(before, info["secret"]) and len(ct.signatures(before)) == 1
    assert before.header("webhook-timestamp").isdigit()
    assert abs(int(before.header("webhook-timestamp")) - time.time()) < 120

    rotated = ct.cli_json(fast, "secret", "rotate", f"--bucket={bucket}", "--grace=1h")
    assert rotated["previous"] == info["secret"] and rotated["secret"] != info["secret"]
    rf.upload(client, bucket, "input/1.mp4", media.video_bytes())
    during = hooks.wait_hits(url, 2)[1]
    assert len(ct.signatures(during)) == 2, during.header("webhook-signature")
    assert ct.verifies(during, rotated["secret"]), "new secret"
    assert ct.verifies(during, info["secret"]), "old secret, during the grace period"

    final = "whsec_" + "QUJDREVGR0hJSktMTU5PUFFSU1RVVldYWVo0NTY3ODk="
    done = ct.cli_json(fast, "secret", "rotate", f"--bucket={bucket}", "--grace=1s", f"--secret={final}")
    assert done["secret"] == final
    time.sleep(1.2)
    rf.upload(client, bucket, "input/2.mp4", media.video_bytes())
    after = hooks.wait_hits(url, 3)[2]
    assert len(ct.signatures(after)) == 1
    assert ct.verifies(after, final) and not ct.verifies(after, rotated["secret"])
    assert len(ct.run_ids(client, bucket, wid, n=3)) == 3


def test_the_server_wide_secret_signs_buckets_without_their_own(server, client, receiver, media, bucket):
    info = ct.cli_json(server, "secret", "show", f"--bucket={bucket}")
    assert (info["source"], info["secret"]) == ("server-default", server.callback_secret)


# --- SSRF --------------------------------------------------------------------------------------
def test_non_public_destinations_are_refused_before_connecting(strict, hooks, media):
    client = strict.client()
    bucket = rf.create_bucket(client, "ssrf")
    v4_port = hooks.port
    targets = {
        "metadata": "http://169.254.169.254/latest/meta-data/",
        "private": "http://10.0.0.1/hook",
        "v6loop": f"http://[::1]:{v4_port}/v6/{bucket}",
        "name": f"http://localhost:{v4_port}/name/{bucket}",
    }
    flows = {label: ct.workflow(client, bucket, url, prefix="in/", name=label) for label, url in targets.items()}
    rf.upload(client, bucket, "in/x.mp4", media.video_bytes())  # one upload starts all four
    for label, wid in flows.items():
        (run_id,) = ct.run_ids(client, bucket, wid)
        m = ct.message_of_run(strict, run_id)
        m = ct.wait_message(strict, m["id"], lambda m: m["attempts"], f"an attempt for {label}")
        attempt = m["attempts"][0]
        assert attempt["error_kind"] == "ssrf_refused", (label, attempt)
        assert "non-public" in attempt["error"], attempt["error"]
        assert attempt["status"] is None and attempt["duration_ms"] < 1000
        if label != "name":  # an IP literal cannot change: refused for good
            assert attempt["verdict"] == "Exhausted", (label, attempt)
    assert hooks.hits(targets["name"]) == [] and hooks.hits(targets["v6loop"]) == []


def test_loopback_by_name_and_v6_is_delivered_with_the_allow_list(fast, fbucket, hooks, media):
    v6 = ct.ScriptedReceiver("::1")
    try:
        by_name = hooks.url("byname", host="localhost")
        v6_url = v6.url("v6")
        client = fast.client()
        ct.workflow(client, fbucket, by_name, prefix="in/", name="byname")
        ct.workflow(client, fbucket, v6_url, prefix="in/", name="v6")
        rf.upload(client, fbucket, "in/x.mp4", media.video_bytes())
        assert hooks.wait_hits(by_name, 1)[0].action == 200
        assert v6.wait_hits(v6_url, 1)[0].action == 200
    finally:
        v6.close()


# --- visibility and control ----------------------------------------------------------------------
def test_redeliver_and_recover_are_visible_in_the_attempt_log(fast, fbucket, hooks, media):
    ok = hooks.url("ok")
    down = hooks.url("down")
    hooks.script(down, [503, 503, 503])  # the whole round fails, then it would answer 200
    client = fast.client()
    wf_ok = ct.workflow(client, fbucket, ok, prefix="ok/", name="ok")
    wf_down = ct.workflow(client, fbucket, down, prefix="down/", name="down")
    since = int(time.time()) - 5
    rf.upload(client, fbucket, "ok/a.mp4", media.video_bytes())
    rf.upload(client, fbucket, "down/a.mp4", media.video_bytes())
    (ok_run,) = ct.run_ids(client, fbucket, wf_ok)
    (down_run,) = ct.run_ids(client, fbucket, wf_down)
    ok_id, down_id = f"msg_{ok_run}_workflowfinish", f"msg_{down_run}_workflowfinish"
    ct.wait_message(fast, ok_id, lambda m: m["state"] == "Delivered", "ok delivered")
    ct.wait_message(fast, down_id, lambda m: m["state"] == "Exhausted", "down exhausted")

    assert "queued for redelivery" in ct.cli(fast, "redeliver", ok_id).stdout
    again = hooks.wait_hits(ok, 2)
    assert again[0].header("webhook-id") == again[1].header("webhook-id") and again[0].body == again[1].body
    m = ct.wait_message(fast, ok_id, lambda m: len(m["attempts"]) == 2, "the redelivery logged")
    assert (m["attempts"][1]["trigger"], m["attempts"][1]["round"], m["round"]) == ("Manual", 2, 2)

    result = ct.cli_json(fast, "recover", f"--since={since}", f"--bucket={fbucket}")
    assert result["ids"] == [down_id], result
    m = ct.wait_message(fast, down_id, lambda m: m["state"] == "Delivered", "recovered")
    assert [a["trigger"] for a in m["attempts"]] == ["Scheduled"] * 3 + ["Manual"]
    assert [a["verdict"] for a in m["attempts"]][-2:] == ["Exhausted", "Delivered"]

    by_workflow = ct.messages(fast, workflow=wf_down)
    assert [x["id"] for x in by_workflow] == [down_id]
    human = ct.cli(fast, "show", down_id).stdout
    assert "Manual" in human and "Delivered" in human
    metrics = ct.cli(fast, "metrics").stdout
    assert 'reelflow_callback_attempts_total{outcome="delivered"}' in metrics
    assert "reelflow_callback_oldest_pending_age_seconds" in metrics


def test_management_api_requires_a_signature_but_health_does_not(fast):
    assert requests.get(f"{fast.base_url}/_reelflow/health", timeout=5).status_code == 200
    resp = requests.get(f"{fast.base_url}/_reelflow/v1/callbacks", timeout=5)
    assert resp.status_code in (401, 403), resp.status_code
    bad = ct.cli(fast, "show", "msg_nope", check=False)
    assert bad.returncode == 1 and "ResourceNotFound" in bad.stderr, bad.stderr
