"""rclone (Debian package, 1.60) with an S3 remote made from environment variables
(client-testing.md): a directory copied up and back, `ls`/`lsjson`/`check`, with ListObjects v1
(what rclone uses for Tencent COS) and v2, small listing pages; and a wrong secret refused."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

import reelflow_e2e as rf
import transfer_support as ts
from transfer_support import MiB

FILES = {
    "a.txt": b"alpha\n",
    "space name.txt": b"a name with a space\n",
    "sub/b.bin": None,  # 1.5 MB of random bytes
    "sub/deeper/c.txt": b"gamma\n" * 100,
    "sub/unicode-\u00fc.txt": b"umlaut\n",
    "z/empty.txt": b"",
}


class Rclone:
    def __init__(self, server, home: Path, list_version: int = 1, secret_key: str | None = None) -> None:
        self.exe = ts.rclone()
        config = home / "rclone.conf"
        home.mkdir(parents=True, exist_ok=True)
        config.write_text("")
        self.env = ts.clean_env(
            home,
            RCLONE_CONFIG=str(config),
            RCLONE_CONFIG_R_TYPE="s3",
            RCLONE_CONFIG_R_PROVIDER="Other",
            RCLONE_CONFIG_R_ENV_AUTH="false",
            RCLONE_CONFIG_R_ENDPOINT=server.base_url,
            RCLONE_CONFIG_R_REGION=rf.REGION,
            RCLONE_CONFIG_R_ACCESS_KEY_ID=server.secret_id,
            RCLONE_CONFIG_R_SECRET_ACCESS_KEY=secret_key or server.secret_key,
            RCLONE_CONFIG_R_FORCE_PATH_STYLE="true",
            RCLONE_CONFIG_R_LIST_VERSION=str(list_version),
            RCLONE_CONFIG_R_LIST_CHUNK="2",  # page through every listing
        )

    def run(self, *args: str, check: bool = True, timeout: float = 180):
        cmd = [self.exe, "--retries", "1", "--low-level-retries", "1", "--contimeout", "10s", *args]
        out = ts.run_tool(cmd, self.env, timeout=timeout)
        return ts.ok(out) if check else out


def make_tree(root: Path) -> dict[str, bytes]:
    files = {}
    for rel, data in FILES.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        files[rel] = ts.write_random(path, 3 * MiB // 2) if data is None else data
        if data is not None:
            path.write_bytes(data)
    return files


@pytest.mark.parametrize("list_version", [1, 2], ids=["list-v1", "list-v2"])
def test_copy_up_and_back(server, client, tmp_path, list_version):
    rc = Rclone(server, tmp_path / "home", list_version=list_version)
    bucket = rf.new_bucket_name("rcl")
    rc.run("mkdir", f"R:{bucket}")
    src = tmp_path / "src"
    files = make_tree(src)

    rc.run("copy", str(src), f"R:{bucket}/up")
    assert rf.list_keys(client, bucket) == sorted(f"up/{k}" for k in files)
    for rel, data in files.items():
        stored = client.get_object(Bucket=bucket, Key=f"up/{rel}")["Body"].get_raw_stream().read()
        assert stored == data, f"up/{rel} stored {len(stored)} bytes, want {len(data)}"

    ls = rc.run("ls", f"R:{bucket}/up").stdout
    got = sorted((line.strip().split(" ", 1)[1], int(line.split()[0])) for line in ls.splitlines() if line.strip())
    assert got == sorted((k, len(v)) for k, v in files.items()), ls

    listing = rc.run("lsjson", "-R", "--files-only", f"R:{bucket}/up", "-vv", "--dump", "headers")
    entries = json.loads(listing.stdout)
    assert sorted((e["Path"], e["Size"]) for e in entries) == sorted((k, len(v)) for k, v in files.items()), entries
    requests_made = [line for line in listing.stderr.splitlines() if "GET /" in line]
    assert requests_made, listing.stderr[-2000:]
    uses_v2 = any("list-type=2" in line for line in requests_made)
    assert uses_v2 == (list_version == 2), f"list_version={list_version}, requests: {requests_made}"

    rc.run("check", str(src), f"R:{bucket}/up")  # sizes and MD5s (ETags) agree

    back = tmp_path / "back"
    rc.run("copy", f"R:{bucket}/up", str(back))
    for rel, data in files.items():
        assert (back / rel).read_bytes() == data, rel

    dirs = json.loads(rc.run("lsjson", "--dirs-only", f"R:{bucket}/up").stdout)
    assert sorted(d["Path"] for d in dirs) == ["sub", "z"], dirs

    rc.run("delete", f"R:{bucket}/up/sub")
    assert rf.list_keys(client, bucket) == sorted(f"up/{k}" for k in files if not k.startswith("sub/"))


def test_wrong_secret_is_refused(server, client, tmp_path):
    bucket = rf.create_bucket(client, "rclbad")
    client.put_object(Bucket=bucket, Key="x.txt", Body=b"x")
    bad = Rclone(server, tmp_path / "home", secret_key=server.secret_key[::-1])
    out = bad.run("lsjson", f"R:{bucket}", check=False)
    assert out.returncode != 0 and "SignatureDoesNotMatch" in out.stderr, (out.returncode, out.stderr[-1500:])
    (tmp_path / "y.txt").write_bytes(b"y")
    out = bad.run("copyto", str(tmp_path / "y.txt"), f"R:{bucket}/y.txt", check=False)
    assert out.returncode != 0, out.stderr[-1500:]
    assert rf.list_keys(client, bucket) == ["x.txt"]
