"""A raw HTTP/1.1 client for the tests that must see the wire: framing on a kept-alive
connection, ``100 Continue``, bytes the SDKs would not send."""

from __future__ import annotations

import json
import socket
from typing import Any


class RawConnection:
    """One kept-alive connection; ``send`` raw bytes, ``response`` reads exactly one answer."""

    def __init__(self, port: int, timeout: float = 10.0) -> None:
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=timeout)
        self.file = self.sock.makefile("rb")

    def __enter__(self) -> RawConnection:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        self.file.close()
        self.sock.close()

    def send(self, raw: bytes) -> None:
        self.sock.sendall(raw)

    def response(self, head_only: bool = False) -> tuple[int, dict[str, str], bytes]:
        """(status, headers by lower-case name, body); ``head_only`` for a HEAD request."""
        status_line = self.file.readline()
        if not status_line:
            raise ConnectionError("closed without an answer")
        status = int(status_line.split()[1])
        headers: dict[str, str] = {}
        while (line := self.file.readline()) not in (b"\r\n", b"\n", b""):
            name, _, value = line.decode("utf-8").partition(":")
            headers[name.strip().lower()] = value.strip()
        if head_only or status in (204, 304) or 100 <= status < 200:
            return status, headers, b""
        if headers.get("transfer-encoding") == "chunked":
            body = b""
            while (size := int(self.file.readline().strip() or b"0", 16)) > 0:
                body += self.file.read(size)
                self.file.readline()
            self.file.readline()
            return status, headers, body
        if "content-length" in headers:
            return status, headers, self.file.read(int(headers["content-length"]))
        return status, headers, self.file.read()

    def request(
        self, method: str, path: str, body: bytes | None = None, **headers: str
    ) -> tuple[int, dict[str, str], bytes]:
        self.send(raw_request(method, path, body, **headers))
        return self.response(head_only=method == "HEAD")


def raw_request(method: str, path: str, body: bytes | None = None, **headers: str) -> bytes:
    """A request's bytes; header names from keywords (``x_api_key`` -> ``x-api-key``),
    values sent as UTF-8."""
    lines = [f"{method} {path} HTTP/1.1", "Host: gateway"]
    if body is not None:
        lines.append(f"Content-Length: {len(body)}")
    lines += [f"{name.replace('_', '-')}: {value}" for name, value in headers.items()]
    return ("\r\n".join(lines) + "\r\n\r\n").encode("utf-8") + (body or b"")


def chat(model: str = "gpt-4o-mini", **extra: Any) -> bytes:
    return json.dumps(
        {"model": model, "messages": [{"role": "user", "content": "Say hello"}], **extra}
    ).encode()


def error_code(body: bytes) -> str:
    return str(json.loads(body)["error"]["code"])
