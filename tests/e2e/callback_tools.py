"""Helpers for tests/e2e/test_callbacks.py: a scripted callback receiver that can also misbehave
(sleep past the timeout, answer 429 with Retry-After, redirect, break the connection), the
`reelflow callbacks` CLI, and an independent Standard Webhooks verifier (Python `hmac`).

Every receiver listens on loopback only (127.0.0.1 or ::1): tests never send traffic elsewhere.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import os
import socket
import subprocess
import threading
import time
import uuid
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Callable

import reelflow_e2e as rf

# --- actions a scripted path can take for one request ------------------------------------------
# int                       answer with that status
# ("status", code, headers) answer with that status and extra headers
# ("sleep", seconds)        sleep, then answer 200 (a timeout when longer than the server's)
# "close"                   read the request, close the connection without answering
# "partial"                 answer 200 with Content-Length 100 but only 7 body bytes, then close
Action = Any


@dataclass
class Hit:
    path: str
    headers: dict[str, str]
    body: bytes
    at: float
    action: Action

    def header(self, name: str) -> str | None:
        return self.headers.get(name.lower())


class ScriptedReceiver:
    """A threaded HTTP/1.1 receiver recording every request; each path follows its own script,
    then answers 200."""

    def __init__(self, host: str = "127.0.0.1") -> None:
        self._lock = threading.Condition()
        self._hits: list[Hit] = []
        self._scripts: dict[str, list[Action]] = {}
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_POST(self) -> None:  # noqa: N802 - http.server naming
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                action = receiver._next(self.path)
                receiver._record(
                    Hit(self.path, {k.lower(): v for k, v in self.headers.items()}, body, time.time(), action)
                )
                receiver._perform(self, action)

            def log_message(self, *args) -> None:
                pass

        server_class = ThreadingHTTPServer
        if ":" in host:

            class V6Server(ThreadingHTTPServer):
                address_family = socket.AF_INET6

            server_class = V6Server
        self._httpd = server_class((host, 0), Handler)
        self._httpd.daemon_threads = True
        self.host = host
        self.port = self._httpd.server_address[1]
        threading.Thread(target=self._httpd.serve_forever, daemon=True).start()

    # --- behaviour ---
    def _next(self, path: str) -> Action:
        with self._lock:
            script = self._scripts.get(path)
            return script.pop(0) if script else 200

    def _record(self, hit: Hit) -> None:
        with self._lock:
            self._hits.append(hit)
            self._lock.notify_all()

    @staticmethod
    def _answer(handler: BaseHTTPRequestHandler, code: int, headers: dict[str, str] | None = None) -> None:
        payload = f"answered {code}".encode()
        handler.send_response(code)
        for name, value in (headers or {}).items():
            handler.send_header(name, value)
        handler.send_header("Content-Type", "text/plain")
        handler.send_header("Content-Length", str(len(payload)))
        handler.end_headers()
        handler.wfile.write(payload)

    def _perform(self, handler: BaseHTTPRequestHandler, action: Action) -> None:
        if isinstance(action, int):
            self._answer(handler, action)
        elif action == "close":
            handler.close_connection = True
            handler.connection.shutdown(socket.SHUT_RDWR)
        elif action == "partial":
            handler.wfile.write(b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\npartial")
            handler.wfile.flush()
            handler.close_connection = True
            handler.connection.shutdown(socket.SHUT_RDWR)
        elif action[0] == "sleep":
            time.sleep(action[1])
            try:
                self._answer(handler, 200)
            except OSError:
                pass  # the client gave up already
        elif action[0] == "status":
            self._answer(handler, action[1], action[2])
        else:
            raise AssertionError(f"unknown action {action!r}")

    # --- API for tests ---
    def url(self, label: str = "cb", host: str | None = None) -> str:
        name = host or (f"[{self.host}]" if ":" in self.host else self.host)
        return f"http://{name}:{self.port}/{label}/{uuid.uuid4().hex}"

    @staticmethod
    def path_of(url: str) -> str:
        return "/" + url.split("/", 3)[3]

    def script(self, url: str, actions: list[Action]) -> None:
        with self._lock:
            self._scripts[self.path_of(url)] = list(actions)

    def hits(self, url: str) -> list[Hit]:
        path = self.path_of(url)
        with self._lock:
            return [h for h in self._hits if h.path == path]

    def wait_hits(self, url: str, n: int, timeout: float = rf.CALLBACK_TIMEOUT) -> list[Hit]:
        path = self.path_of(url)
        deadline = time.monotonic() + timeout
        with self._lock:
            while True:
                got = [h for h in self._hits if h.path == path]
                if len(got) >= n:
                    return got
                left = deadline - time.monotonic()
                if left <= 0:
                    raise AssertionError(f"{len(got)} of {n} requests on {path} within {timeout:.0f}s")
                self._lock.wait(min(left, 0.5))

    def close(self) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()


# --- Standard Webhooks, independently ---------------------------------------------------------
def signatures(hit: Hit) -> list[str]:
    return (hit.header("webhook-signature") or "").split()


def verifies(hit: Hit, secret: str) -> bool:
    """True when one `v1,` entry is base64(HMAC-SHA256(key, id.timestamp.body)), where key is the
    base64-decoded part of `whsec_<base64>` (the Standard Webhooks scheme)."""
    key = base64.b64decode(secret.removeprefix("whsec_"))
    signed = f"{hit.header('webhook-id')}.{hit.header('webhook-timestamp')}.".encode() + hit.body
    want = base64.b64encode(hmac.new(key, signed, hashlib.sha256).digest()).decode()
    for entry in signatures(hit):
        version, _, sig = entry.partition(",")
        if version == "v1" and hmac.compare_digest(sig, want):
            return True
    return False


# --- the CLI ------------------------------------------------------------------------------------
def cli(server, *args: str, check: bool = True) -> subprocess.CompletedProcess:
    """`reelflow callbacks ARGS` against `server`."""
    return client_command(server, "callbacks", *args, check=check)


def client_command(server, command: str, *args: str, check: bool = True) -> subprocess.CompletedProcess:
    """`reelflow COMMAND ARGS` (a client of the management API) against `server`."""
    env = dict(os.environ, REELFLOW_SECRET_ID=server.secret_id, REELFLOW_SECRET_KEY=server.secret_key)
    env.pop("RUST_BACKTRACE", None)
    cmd = [str(server.binary), command, "--server", server.base_url, *args]
    done = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=30)
    if check:
        assert done.returncode == 0, f"{' '.join(args)} failed ({done.returncode}): {done.stderr}"
    return done


def cli_json(server, *args: str) -> Any:
    return json.loads(cli(server, "--json", *args).stdout)


def messages(server, **filters: str) -> list[dict]:
    args = [f"--{k}={v}" for k, v in filters.items()]
    return cli_json(server, "list", *args)["callbacks"]


def show(server, message_id: str) -> dict:
    return cli_json(server, "show", message_id)


def wait_message(server, message_id: str, predicate: Callable[[dict], bool], what: str, timeout: float = 30) -> dict:
    return rf.eventually(lambda: (m := show(server, message_id)) and predicate(m) and m, timeout, 0.2, what)


def message_of_run(server, run_id: str, timeout: float = 60) -> dict:
    found = rf.eventually(lambda: messages(server, run=run_id), timeout, 0.3, f"the callback of {run_id}")
    assert len(found) == 1, found
    return found[0]


# --- workflows ----------------------------------------------------------------------------------
def workflow(client, bucket: str, url: str, prefix: str = "input/", name: str = "cb") -> str:
    tid = rf.create_transcode_template(client, bucket, f"{name}-tpl", 256, 144)
    node = {"Transcode_1": rf.transcode_node(tid, bucket, "out/${RunId}.${Ext}")}
    return rf.create_workflow(client, bucket, rf.workflow_body(name, node, notify_url=url, prefix=prefix))


def run_ids(client, bucket: str, workflow_id: str, n: int = 1, timeout: float = 60) -> list[str]:
    def ended() -> list[str] | None:
        runs = rf.list_executions(client, bucket, workflow_id)
        done = [r["RunId"] for r in runs if r.get("State") not in ("Running", None)]
        return done if len(done) >= n else None

    return rf.eventually(ended, timeout, 0.3, f"{n} finished run(s) of {workflow_id}")
