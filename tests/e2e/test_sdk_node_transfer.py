"""Large transfers with cos-nodejs-sdk-v5 3.0.0 (tests/e2e/sdk_node/transfer.js): uploadFile and
sliceUploadFile of a 30 MB file (multipart: ListMultipartUploads, Initiate, UploadPart with
Content-MD5, Complete), headObject, getObject (whole and ranged), downloadFile (ranged,
parallel) and getBucket with paging. The SDK is installed by scripts/setup.sh (`npm ci`)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest

import reelflow_e2e as rf
import transfer_support as ts
from transfer_support import MiB

NODE_DIR = Path(__file__).resolve().parent / "sdk_node"


@pytest.fixture(scope="session")
def node_exe() -> str:
    node = ts.require_tool(shutil.which("node"), "node")
    pinned = json.loads((NODE_DIR / "package.json").read_text())["dependencies"]["cos-nodejs-sdk-v5"]
    pkg = NODE_DIR / "node_modules" / "cos-nodejs-sdk-v5" / "package.json"
    try:
        installed = json.loads(pkg.read_text())["version"]
    except (OSError, ValueError, KeyError):
        installed = None
    if installed != pinned:
        pytest.fail(f"cos-nodejs-sdk-v5 {pinned} not installed in {NODE_DIR} (found {installed}); run scripts/setup.sh", pytrace=False)
    return node


def test_node_sdk_large_transfers(server, client, big_video, node_exe, tmp_path):
    data = big_video.read_bytes()
    bucket = rf.new_bucket_name("nodexfer")
    home = tmp_path / "home"  # the SDK caches UploadIds under ~/.config
    home.mkdir()
    env = dict(
        os.environ,
        HOME=str(home),
        XDG_CONFIG_HOME=str(home / ".config"),
        PORT=str(server.port),
        SECRET_ID=server.secret_id,
        SECRET_KEY=server.secret_key,
        BUCKET=bucket,
        REGION=rf.REGION,
        FILE=str(big_video),
        WORKDIR=str(tmp_path),
    )
    out = subprocess.run([node_exe, "transfer.js"], cwd=NODE_DIR, env=env, capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, f"transfer.js exited {out.returncode}:\n{out.stdout[-3000:]}\n{out.stderr[-3000:]}"
    report = json.loads(out.stdout.strip().splitlines()[-1])
    s = report["steps"]
    assert report["sdkVersion"] == "3.0.0", report["sdkVersion"]
    failed = {k: v["error"] for k, v in s.items() if isinstance(v, dict) and "error" in v}
    assert not failed, f"cos-nodejs-sdk-v5 steps failed: {json.dumps(failed, indent=1)[:4000]}"

    size, digest, crc = str(len(data)), ts.md5_hex(data), ts.crc64(data)
    for key, step in (("node/upload-file.mp4", "uploadFile"), ("node/slice.mp4", "sliceUploadFile")):
        head = s[f"head:{key}"]
        assert (head["contentLength"], head["crc64"]) == (size, crc), (key, head)
        assert head["etag"] and head["etag"] == s[step]["etag"], (key, head, s[step])
    assert s["getObject"] == {"statusCode": 200, "length": len(data), "md5": digest, "crc64": crc}, s["getObject"]
    assert s["getObjectRange"] == {"statusCode": 206, "length": MiB, "md5": ts.md5_hex(data[MiB : 2 * MiB])}
    assert s["downloadFile"]["md5"] == digest, s["downloadFile"]

    objects = {o["Key"]: o["Size"] for o in s["getBucket"]["objects"]}
    assert objects == {"node/slice.mp4": size, "node/upload-file.mp4": size}, s["getBucket"]
    pages = s["getBucketPaged"]["pages"]
    assert [p["keys"] for p in pages] == [["node/slice.mp4"], ["node/upload-file.mp4"]], pages
    assert pages[0]["isTruncated"] == "true" and pages[-1]["isTruncated"] == "false", pages
    assert s["multipartList"]["uploads"] == [], "completed uploads are still listed"
    # the server holds what was sent
    assert client.get_object(Bucket=bucket, Key="node/slice.mp4")["Body"].get_raw_stream().read() == data


def test_node_sdk_as_the_readme_configures_it(server, client, big_video, node_exe, tmp_path):
    """The README's Node SDK line, nothing added: uploadFile (multipart) and getObject work."""
    bucket = rf.create_bucket(client, "nodereadme")
    env = dict(os.environ, HOME=str(tmp_path), PORT=str(server.port), SECRET_ID=server.secret_id,
               SECRET_KEY=server.secret_key, BUCKET=bucket, FILE=str(big_video))
    out = subprocess.run([node_exe, "readme_config.js"], cwd=NODE_DIR, env=env, capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, f"readme_config.js exited {out.returncode}:\n{out.stderr[-3000:]}"
    report = json.loads(out.stdout.strip().splitlines()[-1])
    assert report["md5"] == ts.md5_hex(big_video.read_bytes()), report
    assert report["etag"].strip('"').endswith(("-" + str(-(-big_video.stat().st_size // MiB)))), report
