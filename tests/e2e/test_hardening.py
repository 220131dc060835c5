"""Bad input gets a clear CI error and writes nothing: oversized bodies, malformed XML, wrong
roots, unknown elements and out-of-range values on the CI API."""

from __future__ import annotations

import requests

import reelflow_e2e as rf


def post(server, client, bucket: str, path: str, body: bytes) -> requests.Response:
    headers = rf.signed_headers(client, "POST", bucket, path)
    return requests.post(f"{server.base_url}{path}", data=body, headers=headers, timeout=30)


def template_count(client, bucket: str) -> int:
    return int(client.ci_get_template(Bucket=bucket)["TotalCount"])


def test_oversized_body_is_refused_with_413_and_nothing_written(server, client, bucket):
    body = b"<Request><Tag>Transcode</Tag><Name>big</Name>" + b"<X>" + b"a" * (2 << 20) + b"</X></Request>"
    resp = post(server, client, bucket, "/template", body)
    assert resp.status_code == 413
    fields = rf.error_fields(resp.content)
    assert fields["Code"] == "EntityTooLarge"
    assert fields["Message"] and fields["Resource"] == "/template" and fields["RequestId"]
    assert resp.headers["x-ci-request-id"] == fields["RequestId"]
    assert template_count(client, bucket) == 0


def test_malformed_xml_wrong_root_and_unknown_elements_name_the_problem(server, client, bucket):
    cases = [
        (b"<Request><Tag>Transcode</Tag><Name>x</Name>", "InvalidArgument", "malformed XML"),
        (b"<Template><Tag>Transcode</Tag></Template>", "InvalidArgument", "Request"),
        (b"<Request><Tag>Transcode</Tag><Name>x</Name><Container><Format>mp4</Format></Container><Video><Wdith>640</Wdith></Video></Request>", "InvalidArgument", "Request.Video.Wdith"),
        (b"<Request><Tag>Transcode</Tag><Name>x</Name><Container><Format>mp4</Format></Container><Video><Codec>H.266</Codec></Video></Request>", "InvalidArgument", "Request.Video.Codec"),
        (b"<Request><Tag>Transcode</Tag><Name>x</Name><Container><Format>mp4</Format></Container><Audio><Bitrate>5000</Bitrate></Audio></Request>", "InvalidArgument", "Request.Audio.Bitrate"),
        (b"", "MissingContent", "empty"),
    ]
    for body, code, needle in cases:
        resp = post(server, client, bucket, "/template", body)
        assert resp.status_code == 400, (body, resp.status_code, resp.text)
        fields = rf.error_fields(resp.content)
        assert fields["Code"] == code, (body, fields)
        assert needle.lower() in fields["Message"].lower(), (body, fields["Message"])
    assert template_count(client, bucket) == 0


def test_workflow_with_a_bad_node_is_refused_whole(server, client, bucket):
    body = (
        b"<Request><MediaWorkflow><Name>bad</Name><Topology><Dependencies><Start>X</Start><X>End</X></Dependencies>"
        b"<Nodes><Start><Type>Start</Type><Input><ObjectPrefix>in/</ObjectPrefix><Bogus>1</Bogus></Input></Start>"
        b"<X><Type>MediaInfo</Type></X></Nodes></Topology></MediaWorkflow></Request>"
    )
    resp = post(server, client, bucket, "/workflow", body)
    assert resp.status_code == 400
    assert "Topology.Nodes.Start.Input.Bogus" in rf.error_fields(resp.content)["Message"]
    assert int(client.ci_get_workflow(Bucket=bucket)["TotalCount"]) == 0
