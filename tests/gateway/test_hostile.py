"""Bad keys and hostile HTTP get a clear JSON error and never take the gateway down; bad
config, a port in use and an unusable database stop startup with one clear line."""

from __future__ import annotations

import json
import socket
import subprocess
from pathlib import Path

import pytest

from tests.gateway.conftest import UPSTREAM_KEYS, GatewayProcess, standard_config
from tests.gateway.fake_upstream import FakeUpstream


def exchange(gateway: GatewayProcess, raw: bytes, timeout: float = 10.0) -> tuple[int, dict, bytes]:
    """Send raw bytes, read until the server closes or one response is complete."""
    with socket.create_connection(("127.0.0.1", gateway.port), timeout=timeout) as sock:
        sock.sendall(raw)
        data = b""
        while True:
            try:
                piece = sock.recv(65536)
            except ConnectionResetError:
                break
            if not piece:
                break
            data += piece
            head, sep, body = data.partition(b"\r\n\r\n")
            if sep:
                lengths = [
                    int(line.split(b":")[1])
                    for line in head.split(b"\r\n")
                    if line.lower().startswith(b"content-length:")
                ]
                if lengths and len(body) >= lengths[0]:
                    break
    head, _, body = data.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    status = int(lines[0].split()[1])
    headers = dict(line.split(": ", 1) for line in lines[1:])
    return status, headers, body


def post(path: str, body: bytes, *headers: str) -> bytes:
    head = [f"POST {path} HTTP/1.1", "Host: x", f"Content-Length: {len(body)}", *headers]
    return ("\r\n".join(head) + "\r\n\r\n").encode() + body


def error_of(body: bytes) -> dict:
    data = json.loads(body)
    return data["error"]


@pytest.fixture(scope="module")
def key(gateway: GatewayProcess) -> str:
    return gateway.create_key("hostile")[0]


def test_missing_and_wrong_keys_are_401(gateway: GatewayProcess, key: str) -> None:
    body = b'{"model":"gpt-4o-mini","messages":[]}'
    status, _, reply = exchange(gateway, post("/v1/chat/completions", body))
    assert status == 401 and error_of(reply)["code"] == "missing_api_key"
    status, _, reply = exchange(
        gateway, post("/v1/chat/completions", body, "Authorization: Bearer llk_nope")
    )
    assert status == 401
    assert error_of(reply) == {
        "message": "invalid or revoked ledger key",
        "type": "authentication_error",
        "param": None,
        "code": "invalid_api_key",
    }
    # An upstream provider key is not a ledger key either.
    status, _, _ = exchange(
        gateway, post("/v1/chat/completions", body, f"x-api-key: {UPSTREAM_KEYS['FAKE_KEY_A']}")
    )
    assert status == 401


@pytest.mark.parametrize(
    ("body", "code", "says"),
    [
        (b'{"model": "gpt-4o-mini", "messages": [', "invalid_json", "not valid JSON"),
        (b"[1, 2, 3]", "invalid_body", "must be a JSON object"),
        (b"", "invalid_body", "empty"),
        (b'{"messages": []}', "missing_model", "'model' is required"),
        (b'{"model": "gpt-4o-mini", "stream": "yes"}', "invalid_stream", "'stream'"),
    ],
)
def test_bad_json_bodies_are_400(
    gateway: GatewayProcess, key: str, body: bytes, code: str, says: str
) -> None:
    status, _, reply = exchange(
        gateway, post("/v1/chat/completions", body, f"Authorization: Bearer {key}")
    )
    assert status == 400
    error = error_of(reply)
    assert error["code"] == code and says in error["message"]


def test_huge_headers_are_431(gateway: GatewayProcess, key: str) -> None:
    raw = post(
        "/v1/chat/completions", b"{}", f"Authorization: Bearer {key}", "X-Big: " + "a" * 40000
    )
    status, headers, reply = exchange(gateway, raw)
    assert status == 431 and headers["connection"] == "close"
    assert error_of(reply)["code"] == "header_too_large"
    # A header that never ends is cut off too, not buffered without bound.
    endless = b"POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nX-Big: " + b"a" * 40000
    status, _, reply = exchange(gateway, endless)
    assert status == 431 and error_of(reply)["code"] == "header_too_large"


@pytest.mark.parametrize(
    ("raw", "status", "code"),
    [
        (
            b"POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nContent-Length: abc\r\n\r\n{}",
            400,
            "bad_request",
        ),
        (
            b"POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\n"
            b"Content-Length: 5\r\n\r\n{}",
            400,
            "bad_request",
        ),
        (
            b"POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nContent-Length: 99999999\r\n\r\n{}",
            413,
            "body_too_large",
        ),
        (b"GARBAGE\r\n\r\n", 400, "bad_request"),
        (
            b"POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
            b"zz\r\n",
            400,
            "bad_request",
        ),
    ],
    ids=["non-numeric-length", "conflicting-lengths", "too-large", "garbage", "bad-chunk"],
)
def test_malformed_http_gets_a_json_error(
    gateway: GatewayProcess, raw: bytes, status: int, code: str
) -> None:
    got, headers, reply = exchange(gateway, raw)
    assert got == status and headers["content-type"] == "application/json"
    assert error_of(reply)["code"] == code


def test_short_body_times_out_with_408(gateway: GatewayProcess, key: str) -> None:
    # The key is checked before the body is read, so the body's deadline is for key holders.
    raw = (
        b"POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n"
        + f"Authorization: Bearer {key}\r\n\r\n".encode()
        + b"{}"
    )
    status, headers, reply = exchange(gateway, raw)  # request_timeout = 2 s in the test config
    assert status == 408 and error_of(reply)["code"] == "request_timeout"
    assert headers["connection"] == "close"


def test_a_head_that_never_arrives_times_out_with_408(gateway: GatewayProcess) -> None:
    status, _, reply = exchange(gateway, b"POST /v1/chat/completions HTTP/1.1\r\nHo")
    assert status == 408 and error_of(reply)["code"] == "request_timeout"
    with socket.create_connection(("127.0.0.1", gateway.port), timeout=10) as idle:
        assert idle.recv(65536).startswith(b"HTTP/1.1 408 ")  # a silent connection too
        assert idle.recv(65536) == b""  # then closed


def test_unknown_paths_and_methods(gateway: GatewayProcess) -> None:
    status, _, reply = exchange(gateway, b"GET /nope HTTP/1.1\r\nHost: x\r\n\r\n")
    assert status == 404 and error_of(reply)["code"] == "not_found"
    status, _, reply = exchange(gateway, b"GET /v1/chat/completions HTTP/1.1\r\nHost: x\r\n\r\n")
    assert status == 405 and error_of(reply)["code"] == "method_not_allowed"


def test_gateway_survives_all_of_it(gateway: GatewayProcess) -> None:
    status, _, body = exchange(gateway, b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
    assert status == 200 and json.loads(body)["status"] == "ok"
    assert gateway.proc is not None and gateway.proc.poll() is None


# -- startup errors ----------------------------------------------------------------------------


def run_serve(workdir: Path, config: str, *extra: str, env: dict[str, str] | None = None):
    process = GatewayProcess(workdir, config, env=env)
    argv = [a for a in process.argv if a not in ("--port", "0")] + list(extra)
    return subprocess.run(argv, env=process.env, capture_output=True, text=True, timeout=60)


def one_line(result: subprocess.CompletedProcess[str]) -> str:
    assert result.returncode == 1
    assert "Traceback" not in result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    return lines[0]


def test_bad_config_names_the_key(fake: FakeUpstream, tmp_path: Path) -> None:
    config = standard_config(fake.port, tmp_path).replace(
        'protocol = "anthropic"', 'protocol = "grpc"'
    )
    line = one_line(run_serve(tmp_path, config, "--port", "0"))
    assert "upstreams[1].protocol" in line and "grpc" in line


def test_missing_key_env_is_named_and_the_secret_never_shown(
    fake: FakeUpstream, tmp_path: Path
) -> None:
    config = standard_config(fake.port, tmp_path).replace("FAKE_KEY_B", "NOT_SET_ANYWHERE")
    line = one_line(run_serve(tmp_path, config, "--port", "0"))
    assert "upstreams[0].accounts[1].api_key_env" in line and "NOT_SET_ANYWHERE" in line


def test_no_upstreams(tmp_path: Path) -> None:
    line = one_line(run_serve(tmp_path, "[gateway]\n", "--port", "0"))
    assert "no [[upstreams]] configured" in line


def test_port_in_use(fake: FakeUpstream, tmp_path: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        line = one_line(
            run_serve(tmp_path, standard_config(fake.port, tmp_path), "--port", str(port))
        )
    assert f"127.0.0.1:{port}" in line and "already in use" in line


def test_unusable_database(fake: FakeUpstream, tmp_path: Path) -> None:
    process = GatewayProcess(tmp_path, standard_config(fake.port, tmp_path))
    argv = list(process.argv)
    argv[argv.index("--db") + 1] = str(tmp_path / "no-such-dir" / "sub" / "x.db")
    (tmp_path / "no-such-dir").write_text("a file where a directory should be")
    result = subprocess.run(argv, env=process.env, capture_output=True, text=True, timeout=60)
    line = one_line(result)
    assert "x.db" in line


def test_bad_port_is_a_usage_error(fake: FakeUpstream, tmp_path: Path) -> None:
    result = run_serve(tmp_path, standard_config(fake.port, tmp_path), "--port", "99999")
    assert (result.returncode, result.stdout, result.stderr) == (
        2,
        "",
        "llmledger: error: argument --port: 99999 is not a port number (0-65535) "
        "(see 'llmledger serve --help')\n",
    )
