"""Helpers for the transfer and S3-compatibility tests (test_transfer_python.py,
test_sdk_node_transfer.py, test_s3_*.py, test_ci_routing.py).

Everything drives reelflow the way users do: the official SDKs and tools, pointed at the local
server as shared/docs/client-testing.md describes. No helper here talks to reelflow in a way a
client would not, except the raw `requests` calls that check what a client hides.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import socket
import subprocess
import time
from pathlib import Path
from typing import Any, Callable, Iterable

import crcmod
import pytest
import urllib3.util.connection as urllib3_connection

import reelflow_e2e as rf

REPO = Path(__file__).resolve().parents[2]
MiB = 1024 * 1024

# --- checksums ------------------------------------------------------------------------------------
# x-cos-hash-crc64ecma: decimal CRC-64/XZ (api-reference-2.md §1.4), with the SDK's own parameters.
_crc64 = crcmod.mkCrcFun(0x142F0E1EBA9EA3693, initCrc=0, xorOut=0xFFFFFFFFFFFFFFFF, rev=True)
assert _crc64(b"123456789") == 11051210869376104954  # the §1.4 vector


def crc64(data: bytes) -> str:
    return str(_crc64(data))


def md5_hex(data: bytes) -> str:
    return hashlib.md5(data).hexdigest()


def multipart_etag(parts: Iterable[bytes]) -> str:
    """The S3 form `"<md5 of the concatenated binary part MD5s>-<N>"` (api-reference-2.md §1.4)."""
    parts = list(parts)
    digest = hashlib.md5(b"".join(hashlib.md5(p).digest() for p in parts)).hexdigest()
    return f'"{digest}-{len(parts)}"'


def split_parts(data: bytes, size: int) -> list[bytes]:
    """`data` cut the way the SDKs cut files into parts: `size` bytes each, the last one shorter."""
    return [data[i : i + size] for i in range(0, len(data), size)]


def write_random(path: Path, size: int) -> bytes:
    data = os.urandom(size)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    return data


# --- media ------------------------------------------------------------------------------------------
def make_big_video(dest: Path, min_bytes: int = 30 * MiB) -> Path:
    """A real, probe-able H.264 mp4 of at least `min_bytes` (lossless noise compresses badly,
    so a second or two of 720p is enough), made in well under two seconds."""
    ffmpeg = shutil.which("ffmpeg")
    if ffmpeg is None:
        pytest.fail("ffmpeg not found; run scripts/setup.sh", pytrace=False)
    seconds = 1.2
    for _ in range(4):
        cmd = [
            ffmpeg, "-hide_banner", "-loglevel", "error", "-nostdin", "-y",
            "-f", "lavfi", "-i", "testsrc2=size=1280x720:rate=25",
            "-vf", "noise=alls=20:allf=t", "-t", str(seconds),
            "-c:v", "libx264", "-preset", "ultrafast", "-qp", "0", "-pix_fmt", "yuv420p",
            "-movflags", "+faststart", str(dest),
        ]  # fmt: skip
        subprocess.run(cmd, check=True, timeout=120)
        if dest.stat().st_size >= min_bytes:
            return dest
        seconds *= 1.6
    raise AssertionError(f"could not make a video of {min_bytes} bytes: {dest.stat().st_size}")


# --- loopback name resolution (client-testing.md "Domain mode") --------------------------------
LOOPBACK_NAMES = {"127.0.0.1", "localhost", "::1"}


def route_names_to_loopback(monkeypatch, routes: dict[str, int]) -> None:
    """Makes every urllib3 connection (requests, the COS SDK, botocore) to `<domain>` or
    `*.<domain>`, for each domain in `routes`, go to 127.0.0.1:<port>; loopback addresses pass
    through; any other host is refused, so no test ever reaches a real service."""
    original = urllib3_connection.create_connection

    def create_connection(address, *args, **kwargs):
        host, port = address
        name = (host or "").rstrip(".").lower()
        for domain, target in routes.items():
            if name == domain or name.endswith("." + domain):
                return original(("127.0.0.1", target), *args, **kwargs)
        if name in LOOPBACK_NAMES:
            return original(address, *args, **kwargs)
        raise socket.gaierror(f"test isolation: refusing to connect to {host}:{port}")

    monkeypatch.setattr(urllib3_connection, "create_connection", create_connection)


def cos_domain_client(server, monkeypatch, secret_key: str | None = None):
    """A cos-python-sdk-v5 client in Domain mode (default endpoints, no IP/Port), with
    `*.myqcloud.com` mapped to the server: what a deployment with a DNS name looks like."""
    from qcloud_cos import CosConfig, CosS3Client

    route_names_to_loopback(monkeypatch, {"myqcloud.com": server.port})
    cfg = CosConfig(
        Region=rf.REGION,
        SecretId=server.secret_id,
        SecretKey=secret_key or server.secret_key,
        Scheme="http",
        Timeout=60,
    )
    return CosS3Client(cfg, retry=0)


# --- boto3 ------------------------------------------------------------------------------------------
def s3_client(
    server,
    *,
    style: str = "path",
    endpoint: str | None = None,
    secret_key: str | None = None,
    access_key: str | None = None,
    verify: str | bool | None = None,
    **config: Any,
):
    """boto3 S3 client with default settings (checksums `when_supported`), endpoint
    http://127.0.0.1:P unless given, SigV4, the server's credentials."""
    import boto3
    from botocore.config import Config

    cfg = Config(
        s3={"addressing_style": style},
        retries={"max_attempts": 1, "mode": "standard"},
        connect_timeout=10,
        read_timeout=60,
        **config,
    )
    return boto3.client(
        "s3",
        endpoint_url=endpoint or server.base_url,
        region_name=rf.REGION,
        aws_access_key_id=access_key or server.secret_id,
        aws_secret_access_key=secret_key or server.secret_key,
        verify=verify,
        config=cfg,
    )


def client_error(fn: Callable[[], Any]):
    """Runs a boto3 call that must fail; returns (HTTP status, error code, error dict)."""
    from botocore.exceptions import ClientError

    try:
        result = fn()
    except ClientError as e:
        err = e.response.get("Error", {})
        return e.response.get("ResponseMetadata", {}).get("HTTPStatusCode"), err.get("Code"), err
    raise AssertionError(f"the call succeeded; want an S3 error. Result: {str(result)[:300]}")


# --- command-line tools -----------------------------------------------------------------------------
def require_tool(path: str | Path | None, what: str) -> str:
    """The tool's path; a missing tool fails the test (setup.sh installs them all)."""
    if path is None or not Path(path).exists():
        pytest.fail(f"{what} not found ({path}); run scripts/setup.sh", pytrace=False)
    return str(path)


def aws_cli() -> str:
    return require_tool(REPO / ".venv-awscli" / "bin" / "aws", "the AWS CLI (.venv-awscli)")


def rclone() -> str:
    return require_tool(shutil.which("rclone"), "rclone")


def clean_env(home: Path, **extra: str) -> dict[str, str]:
    """The environment for a tool subprocess: the user's AWS/rclone configuration left out."""
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("AWS_", "RCLONE_", "BOTO_")) and k not in ("HTTP_PROXY", "HTTPS_PROXY", "http_proxy", "https_proxy")
    }
    home.mkdir(parents=True, exist_ok=True)
    env["HOME"] = str(home)
    env["NO_PROXY"] = "*"
    env.update(extra)
    return env


def run_tool(cmd: list[str], env: dict[str, str], timeout: float = 120, cwd: Path | None = None) -> subprocess.CompletedProcess:
    return subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=timeout, cwd=cwd)


def ok(out: subprocess.CompletedProcess) -> subprocess.CompletedProcess:
    assert out.returncode == 0, (
        f"`{' '.join(map(str, out.args))}` exited {out.returncode}\n--- stdout ---\n{out.stdout[-3000:]}"
        f"\n--- stderr ---\n{out.stderr[-3000:]}"
    )
    return out


# --- workflows --------------------------------------------------------------------------------------
QUIET = 2.5  # seconds to wait before concluding that no second run started


def mediainfo_workflow(client, bucket: str, url: str, prefix: str, name: str = "xfer") -> str:
    """A cheap workflow (one MediaInfo node: an ffprobe of the input) on `prefix`."""
    body = rf.workflow_body(name, {"MediaInfo_1": {"Type": "MediaInfo"}}, notify_url=url, prefix=prefix)
    return rf.create_workflow(client, bucket, body)


def assert_exactly_one_run(client, receiver, bucket: str, workflow_id: str, url: str, key: str, timeout: float = 90):
    """The upload of `key` started one run of the workflow, which finished with one callback."""
    d = receiver.wait_for(
        lambda d: d.path == receiver.path_of(url), timeout=timeout, what=f"the WorkflowFinish callback for {key}"
    )
    ex = rf.callback_execution(d)
    assert rf.text_of(ex, "Object") == key, f"callback Object {rf.text_of(ex, 'Object')!r}, want {key!r}"
    assert rf.text_of(ex, "State") == "Success", f"run state {rf.text_of(ex, 'State')!r}: {d.body[:2000]!r}"
    time.sleep(QUIET)
    runs = rf.list_executions(client, bucket, workflow_id)
    assert [r.get("Object") for r in runs] == [key], f"want exactly one run for {key}, got {runs}"
    assert len(receiver.deliveries(url)) == 1, f"{len(receiver.deliveries(url))} callbacks for one upload"
    return ex


# --- a TLS front for the plain-HTTP server (boto3 streams aws-chunked bodies only over HTTPS) ----
def self_signed_cert(directory: Path) -> tuple[Path, Path]:
    """(cert, key) for 127.0.0.1/localhost, made with the openssl CLI."""
    openssl = require_tool(shutil.which("openssl"), "openssl")
    cert, key = directory / "cert.pem", directory / "key.pem"
    subprocess.run(
        [
            openssl, "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2",
            "-keyout", str(key), "-out", str(cert), "-subj", "/CN=localhost",
            "-addext", "subjectAltName=IP:127.0.0.1,DNS:localhost",
        ],
        check=True, capture_output=True, timeout=60,
    )  # fmt: skip
    return cert, key


class TlsProxy:
    """Terminates TLS on 127.0.0.1:<port> and relays the bytes, unchanged, to the server's
    plain-HTTP port: the client's request (Host, signature, aws-chunked framing) arrives as sent."""

    def __init__(self, target_port: int, cert: Path, key: Path) -> None:
        import ssl
        import threading

        self._ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        self._ctx.load_cert_chain(str(cert), str(key))
        self._target = target_port
        self._sock = socket.create_server(("127.0.0.1", 0))
        self.port = self._sock.getsockname()[1]
        self._closed = False
        self._thread = threading.Thread(target=self._accept, name="tls-proxy", daemon=True)
        self._thread.start()

    def _accept(self) -> None:
        import threading

        while not self._closed:
            try:
                conn, _ = self._sock.accept()
            except OSError:
                return
            threading.Thread(target=self._serve, args=(conn,), daemon=True).start()

    def _serve(self, conn: socket.socket) -> None:
        import threading

        try:
            tls = self._ctx.wrap_socket(conn, server_side=True)
            upstream = socket.create_connection(("127.0.0.1", self._target), timeout=120)
        except OSError:
            conn.close()
            return

        def pump(src: socket.socket, dst: socket.socket) -> None:
            try:
                while True:
                    chunk = src.recv(65536)
                    if not chunk:
                        break
                    dst.sendall(chunk)
            except OSError:
                pass
            finally:
                for s in (src, dst):
                    try:
                        s.close()
                    except OSError:
                        pass

        threading.Thread(target=pump, args=(upstream, tls), daemon=True).start()
        pump(tls, upstream)

    def close(self) -> None:
        self._closed = True
        self._sock.close()
