"""The AWS CLI v1 (`awscli` 1.46, its own venv .venv-awscli, installed by scripts/setup.sh)
against reelflow's S3 API: `aws s3` transfers (multipart above 8 MB), listings and deletes,
single `aws s3api` calls, and a wrong secret refused. Credentials come from the environment
(AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY/AWS_DEFAULT_REGION) with --endpoint-url, as users do."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

import reelflow_e2e as rf
import transfer_support as ts
from transfer_support import MiB


class Aws:
    def __init__(self, server, home: Path, secret_key: str | None = None) -> None:
        self.exe = ts.aws_cli()
        self.endpoint = server.base_url
        self.env = ts.clean_env(
            home,
            AWS_ACCESS_KEY_ID=server.secret_id,
            AWS_SECRET_ACCESS_KEY=secret_key or server.secret_key,
            AWS_DEFAULT_REGION=rf.REGION,
            AWS_CONFIG_FILE=str(home / "aws-config"),  # absent: no profile of the user's
            AWS_SHARED_CREDENTIALS_FILE=str(home / "aws-credentials"),
            AWS_EC2_METADATA_DISABLED="true",
            AWS_MAX_ATTEMPTS="1",
            AWS_PAGER="",
        )

    def run(self, *args: str, check: bool = True, timeout: float = 180):
        out = ts.run_tool([self.exe, "--endpoint-url", self.endpoint, *args], self.env, timeout=timeout)
        return ts.ok(out) if check else out

    def json(self, *args: str):
        return json.loads(self.run(*args, "--output", "json").stdout or "null")


@pytest.fixture
def aws(server, tmp_path) -> Aws:
    return Aws(server, tmp_path / "home")


def test_s3_cp_ls_sync_rm(aws, client, tmp_path):
    bucket = rf.new_bucket_name("cli")
    aws.run("s3", "mb", f"s3://{bucket}")
    small = tmp_path / "small.txt"
    small.write_bytes(b"small file from the aws cli\n")
    large_data = ts.write_random(tmp_path / "large.bin", 12 * MiB + 7)  # > 8 MB: multipart

    aws.run("s3", "cp", str(small), f"s3://{bucket}/dir/small.txt")
    aws.run("s3", "cp", str(tmp_path / "large.bin"), f"s3://{bucket}/dir/large.bin")
    assert client.get_object(Bucket=bucket, Key="dir/large.bin")["Body"].get_raw_stream().read() == large_data
    head = aws.json("s3api", "head-object", "--bucket", bucket, "--key", "dir/large.bin")
    assert head["ContentLength"] == len(large_data) and head["ETag"].endswith('-2"'), head

    listing = aws.run("s3", "ls", f"s3://{bucket}/dir/").stdout
    rows = sorted(line.split()[-2:] for line in listing.splitlines() if line.strip())
    assert rows == [[str(len(large_data)), "large.bin"], [str(small.stat().st_size), "small.txt"]], listing
    assert bucket in aws.run("s3", "ls").stdout, "`aws s3 ls` (ListBuckets) does not show the bucket"

    aws.run("s3", "cp", f"s3://{bucket}/dir/large.bin", str(tmp_path / "large.back"))  # ranged GETs
    assert (tmp_path / "large.back").read_bytes() == large_data
    assert aws.run("s3", "cp", f"s3://{bucket}/dir/small.txt", "-").stdout == small.read_text()  # to stdout

    tree = tmp_path / "tree"
    (tree / "sub").mkdir(parents=True)
    (tree / "a.txt").write_bytes(b"a")
    (tree / "sub" / "b.txt").write_bytes(b"bb")
    aws.run("s3", "sync", str(tree), f"s3://{bucket}/sync/")
    assert rf.list_keys(client, bucket, "sync/") == ["sync/a.txt", "sync/sub/b.txt"]
    again = aws.run("s3", "sync", str(tree), f"s3://{bucket}/sync/").stdout
    assert "upload:" not in again, f"an unchanged tree was uploaded again: {again}"

    aws.run("s3", "rm", f"s3://{bucket}/dir/small.txt")
    aws.run("s3", "rm", f"s3://{bucket}/", "--recursive")
    assert rf.list_keys(client, bucket) == []
    aws.run("s3", "rb", f"s3://{bucket}")


def test_s3api_calls(aws, client, tmp_path):
    bucket = rf.new_bucket_name("cliapi")
    aws.run("s3api", "create-bucket", "--bucket", bucket)
    body = tmp_path / "body.txt"
    body.write_bytes(b"s3api put-object\n")
    put = aws.json("s3api", "put-object", "--bucket", bucket, "--key", "k/one.txt", "--body", str(body))
    assert put["ETag"] == f'"{ts.md5_hex(body.read_bytes())}"', put
    for n in range(2, 5):
        aws.run("s3api", "put-object", "--bucket", bucket, "--key", f"k/{n}.txt", "--body", str(body))

    head = aws.json("s3api", "head-object", "--bucket", bucket, "--key", "k/one.txt")
    assert head["ContentLength"] == body.stat().st_size and head["ETag"] == put["ETag"], head
    got = aws.json("s3api", "get-object", "--bucket", bucket, "--key", "k/one.txt", str(tmp_path / "out.txt"))
    assert got["ContentLength"] == body.stat().st_size
    assert (tmp_path / "out.txt").read_bytes() == body.read_bytes()

    # --page-size 1: the CLI follows NextContinuationToken four times
    listed = aws.json("s3api", "list-objects-v2", "--bucket", bucket, "--page-size", "1")
    assert [o["Key"] for o in listed["Contents"]] == ["k/2.txt", "k/3.txt", "k/4.txt", "k/one.txt"], listed
    v1 = aws.json("s3api", "list-objects", "--bucket", bucket, "--page-size", "3")
    assert len(v1["Contents"]) == 4, v1

    up = aws.json("s3api", "create-multipart-upload", "--bucket", bucket, "--key", "mp.bin")
    part = tmp_path / "part.bin"
    part_data = ts.write_random(part, MiB)
    etag = aws.json(
        "s3api", "upload-part", "--bucket", bucket, "--key", "mp.bin", "--upload-id", up["UploadId"],
        "--part-number", "1", "--body", str(part),
    )["ETag"]  # fmt: skip
    parts = aws.json("s3api", "list-parts", "--bucket", bucket, "--key", "mp.bin", "--upload-id", up["UploadId"])
    assert [(p["PartNumber"], p["Size"], p["ETag"]) for p in parts["Parts"]] == [(1, MiB, etag)], parts
    manifest = tmp_path / "parts.json"
    manifest.write_text(json.dumps({"Parts": [{"PartNumber": 1, "ETag": etag}]}))
    aws.run(
        "s3api", "complete-multipart-upload", "--bucket", bucket, "--key", "mp.bin", "--upload-id", up["UploadId"],
        "--multipart-upload", f"file://{manifest}",
    )  # fmt: skip
    assert client.get_object(Bucket=bucket, Key="mp.bin")["Body"].get_raw_stream().read() == part_data

    deleted = aws.json(
        "s3api", "delete-objects", "--bucket", bucket,
        "--delete", json.dumps({"Objects": [{"Key": "k/2.txt"}, {"Key": "k/3.txt"}]}),
    )  # fmt: skip
    assert sorted(d["Key"] for d in deleted["Deleted"]) == ["k/2.txt", "k/3.txt"], deleted
    assert rf.list_keys(client, bucket) == ["k/4.txt", "k/one.txt", "mp.bin"]


def test_wrong_secret_is_refused(server, client, tmp_path):
    bucket = rf.create_bucket(client, "clibad")
    bad = Aws(server, tmp_path / "home", secret_key=server.secret_key[::-1])
    out = bad.run("s3", "ls", f"s3://{bucket}", check=False)
    assert out.returncode != 0 and "SignatureDoesNotMatch" in out.stderr, (out.returncode, out.stderr[-1000:])
    (tmp_path / "x.txt").write_bytes(b"x")
    out = bad.run("s3", "cp", str(tmp_path / "x.txt"), f"s3://{bucket}/x.txt", check=False)
    assert out.returncode != 0 and "SignatureDoesNotMatch" in out.stderr, (out.returncode, out.stderr[-1000:])
    assert rf.list_keys(client, bucket) == []
