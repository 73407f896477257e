"""``llmledger live`` in a real pseudo-terminal: it starts full screen, shows a call appended
to a transcript within a second, switches views and time zones on keys, quits on ``q`` and
leaves the terminal as it found it (alternate screen left, cursor shown, cbreak undone)."""

from __future__ import annotations

import fcntl
import json
import os
import pty
import re
import struct
import subprocess
import sys
import termios
import threading
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

from .claude_lines import SESSION, assistant

ANSI = re.compile(rb"\x1b\[[0-9;?]*[ -/]*[@-~]|\x1b\][^\x07]*\x07|\x1b[()][0-9A-Za-z]|\x1b[=>]")


class Screen:
    """Everything the program wrote to the terminal, read by a thread."""

    def __init__(self, master: int) -> None:
        self.master, self.raw, self.lock = master, bytearray(), threading.Lock()
        self.thread = threading.Thread(target=self._read, daemon=True)
        self.thread.start()

    def _read(self) -> None:
        while True:
            try:
                data = os.read(self.master, 65536)
            except OSError:
                return
            if not data:
                return
            with self.lock:
                self.raw += data

    def mark(self) -> int:
        with self.lock:
            return len(self.raw)

    def text(self, since: int = 0) -> str:
        with self.lock:
            data = bytes(self.raw[since:])
        return ANSI.sub(b"", data).decode("utf-8", "replace")

    def wait_for(self, needle: str, since: int = 0, timeout: float = 20.0) -> float:
        started = time.monotonic()
        while time.monotonic() - started < timeout:
            if needle in self.text(since):
                return time.monotonic() - started
            time.sleep(0.02)
        raise AssertionError(f"{needle!r} not shown in {timeout} s; last: {self.text()[-2000:]}")


@pytest.mark.slow
def test_live_view_in_a_pty(isolated_home: Path, tmp_path: Path) -> None:
    folder = isolated_home / ".claude" / "projects" / "-work-app"
    folder.mkdir(parents=True)
    transcript = folder / f"{SESSION}.jsonl"
    now = datetime.now(timezone.utc)
    transcript.write_text(json.dumps(assistant("msg_01", now - timedelta(minutes=2))) + "\n")

    master, slave = pty.openpty()
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 60, 140, 0, 0))
    before = termios.tcgetattr(slave)
    env = {**os.environ, "TERM": "xterm-256color", "TZ": "Asia/Tokyo", "COLUMNS": "140"}
    env.pop("COLUMNS")
    command = [sys.executable, "-m", "llmledger.cli.main", "--db", str(tmp_path / "l.db")]
    process = subprocess.Popen(
        [*command, "live", "--interval", "0.2"],
        stdin=slave,
        stdout=slave,
        stderr=slave,
        env=env,
        close_fds=True,
    )
    screen = Screen(master)
    try:
        screen.wait_for("llmledger live · Overview · Asia/Tokyo")
        screen.wait_for("claude-sonnet-4-5-20250929")  # the call already in the log

        # A call appended to the log shows within a second.
        mark = screen.mark()
        call = assistant("msg_02", datetime.now(timezone.utc), model="claude-opus-4-1-20250805")
        with transcript.open("a", encoding="utf-8") as handle:
            handle.write(json.dumps(call) + "\n")
        shown_after = screen.wait_for("claude-opus-4-1-20250805", since=mark, timeout=10)
        print(f"shown after {shown_after:.3f} s")
        assert shown_after < 1.0

        mark = screen.mark()
        os.write(master, b"v")
        screen.wait_for("llmledger live · Last calls · Asia/Tokyo", since=mark)
        mark = screen.mark()
        os.write(master, b"z")
        screen.wait_for("llmledger live · Last calls · UTC", since=mark)
        mark = screen.mark()
        os.write(master, b"v")
        screen.wait_for("llmledger live · Overview · UTC", since=mark)
        screen.wait_for("Active 5-hour blocks", since=mark)

        os.write(master, b"q")
        assert process.wait(timeout=10) == 0
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    time.sleep(0.1)
    raw = bytes(screen.raw)
    assert raw.count(b"\x1b[?1049h") == 1  # into the alternate screen once
    assert raw.rfind(b"\x1b[?1049l") > raw.rfind(b"\x1b[?1049h")  # and out of it at the end
    assert raw.rfind(b"\x1b[?25h") > raw.rfind(b"\x1b[?25l")  # the cursor shown again
    assert termios.tcgetattr(slave) == before  # echo and line mode back
    os.close(slave)
    os.close(master)


def test_live_once_prints_a_plain_frame(isolated_home: Path, tmp_path: Path) -> None:
    folder = isolated_home / ".claude" / "projects" / "-work-app"
    folder.mkdir(parents=True)
    now = datetime.now(timezone.utc)
    (folder / f"{SESSION}.jsonl").write_text(
        json.dumps(assistant("msg_01", now - timedelta(minutes=2))) + "\n"
    )
    env = {**os.environ, "TZ": "UTC", "COLUMNS": "100"}
    done = subprocess.run(
        [sys.executable, "-m", "llmledger.cli.main", "--db", str(tmp_path / "l.db"), "blocks",
         "--live", "--once"],
        capture_output=True, text=True, env=env, timeout=60, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert lines[0].startswith("╭─ llmledger live · Overview · UTC ")
    assert "\x1b[" not in done.stdout  # no color, no cursor moves: a plain table
    assert max(len(line) for line in lines) == 100
    rows = [line for line in lines if "claude-code" in line]
    assert any("claude-sonnet-4-5-20250929" in row and "$0.02" in row for row in rows)
    assert "no official readings yet" in done.stdout
