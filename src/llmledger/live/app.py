"""The live view's loop: the watcher's changes and the keys arrive on one queue; a change files
the changed files in the ledger and rebuilds the board; a key switches the view or the zone,
or quits; a quiet second redraws (the time left in a block moves on)."""

from __future__ import annotations

import contextlib
import os
import queue
import select
import sys
import threading
import time
from collections.abc import Iterator, Mapping
from datetime import datetime, timezone, tzinfo
from typing import TextIO

from rich.console import Console
from rich.live import Live

from llmledger.agent_windows import file_codex_readings
from llmledger.file_one import file_one
from llmledger.ledger import Ledger
from llmledger.live.board import Board, build_board
from llmledger.live.view import VIEWS, screen
from llmledger.live.watch import APPENDED, Change, Watcher, watched_roots

Message = tuple[str, object]
# The board is read again at least this often without any change (limits, the day).
REBUILD_SECONDS = 30.0


class KeyReader(threading.Thread):
    """Puts ``("key", character)`` on ``out`` for each key pressed (the terminal is in cbreak
    mode meanwhile: see ``cbreak``)."""

    def __init__(self, fd: int, out: queue.Queue[Message]) -> None:
        super().__init__(name="llmledger-live-keys", daemon=True)
        self.fd, self.out, self.stop = fd, out, threading.Event()

    def run(self) -> None:
        while not self.stop.is_set():
            ready, _, _ = select.select([self.fd], [], [], 0.1)
            if ready:
                data = os.read(self.fd, 1)
                if not data:
                    self.out.put(("key", "q"))  # the terminal went away
                    return
                self.out.put(("key", data.decode(errors="replace")))


@contextlib.contextmanager
def cbreak(fd: int) -> Iterator[None]:
    """Keys one at a time, unechoed; the terminal's settings restored on the way out."""
    import termios
    import tty

    saved = termios.tcgetattr(fd)
    try:
        tty.setcbreak(fd)
        yield
    finally:
        termios.tcsetattr(fd, termios.TCSADRAIN, saved)


class LiveApp:
    def __init__(
        self,
        ledger: Ledger,
        zones: list[tzinfo],
        env: Mapping[str, str],
        *,
        view: str = "overview",
        interval: float = 1.0,
    ) -> None:
        self.ledger, self.zones, self.env = ledger, zones, env
        self.zone_index, self.view, self.interval = 0, view, interval
        self.messages: queue.Queue[Message] = queue.Queue()
        self.board: Board | None = None
        self.built = 0.0

    @property
    def zone(self) -> tzinfo:
        return self.zones[self.zone_index]

    def rebuild(self) -> Board:
        self.board = build_board(self.ledger, self.zone)
        self.built = time.monotonic()
        return self.board

    def current(self) -> Board:
        """The board, rebuilt when it is old, its clock moved to now otherwise."""
        if self.board is None or time.monotonic() - self.built > REBUILD_SECONDS:
            return self.rebuild()
        self.board.now = datetime.now(timezone.utc)
        return self.board

    def file_changes(self, changes: list[Change]) -> None:
        """File the changed files as a scan would (a source whose files are not appended to
        is scanned as a whole, once per batch)."""
        from llmledger.scan import scan

        rescan: set[str] = set()
        for change in changes:
            if change.source not in APPENDED:
                rescan.add(change.source)
                continue
            with contextlib.suppress(OSError):  # gone meanwhile, or unreadable: next time
                file_one(self.ledger, change.source, change.path)
        if rescan:
            scan(self.ledger, sources=sorted(rescan), env=self.env, workers=1)
        if any(change.source == "codex" for change in changes):
            file_codex_readings(self.ledger)

    def handle(self, kind: str, value: object) -> bool:
        """Apply one message; False to quit."""
        if kind == "changes":
            assert isinstance(value, list)
            self.file_changes(value)
            self.rebuild()
        elif kind == "key":
            if value in ("q", "Q", "\x1b", "\x03"):
                return False
            if value in ("v", "V", "\t"):
                self.view = VIEWS[(VIEWS.index(self.view) + 1) % len(VIEWS)]
            elif value in ("1", "2"):
                self.view = VIEWS[int(str(value)) - 1]
            elif value in ("z", "Z"):
                self.zone_index = (self.zone_index + 1) % len(self.zones)
                self.rebuild()
        return True

    def next_message(self) -> Message | None:
        try:
            return self.messages.get(timeout=self.interval)
        except queue.Empty:
            return None

    def run_full_screen(self, console: Console, keys_fd: int | None) -> int:
        watcher = Watcher(watched_roots(self.env), self.messages)
        watcher.start()
        reader = KeyReader(keys_fd, self.messages) if keys_fd is not None else None
        with contextlib.ExitStack() as stack:
            if reader is not None and keys_fd is not None:
                stack.enter_context(cbreak(keys_fd))
                reader.start()
            live = stack.enter_context(
                Live(console=console, screen=True, auto_refresh=False, redirect_stdout=False)
            )
            try:
                live.update(screen(self.rebuild(), self.view), refresh=True)
                while True:
                    message = self.next_message()
                    if message is not None and not self.handle(*message):
                        break
                    live.update(screen(self.current(), self.view), refresh=True)
            finally:
                watcher.stop.set()
                if reader is not None:
                    reader.stop.set()
                    reader.join(1)
        return 0

    def run_plain(self, out: TextIO, width: int, once: bool) -> int:
        """A plain table, printed again whenever something changed (Ctrl-C to stop)."""
        console = Console(file=out, width=width, color_system=None, force_terminal=False)
        console.print(screen(self.rebuild(), "overview"))
        if once:
            return 0
        watcher = Watcher(watched_roots(self.env), self.messages)
        watcher.start()
        try:
            while True:
                message = self.next_message()
                if message is None:
                    continue
                self.handle(*message)
                console.print()
                console.print(screen(self.current(), "overview"))
                out.flush()
        finally:
            watcher.stop.set()


def can_go_full_screen(out: TextIO, keys: TextIO) -> bool:
    """A terminal that is not ``dumb``, on both ends (the keys come from it)."""
    if os.environ.get("TERM", "") in ("", "dumb"):
        return False
    return bool(out.isatty() and keys.isatty())


def run(
    ledger: Ledger,
    zones: list[tzinfo],
    *,
    plain: bool = False,
    once: bool = False,
    interval: float = 1.0,
    view: str = "overview",
) -> int:
    app = LiveApp(ledger, zones, os.environ, view=view, interval=interval)
    if plain or once or not can_go_full_screen(sys.stdout, sys.stdin):
        columns = os.environ.get("COLUMNS", "")
        width = int(columns) if columns.isdigit() and int(columns) > 0 else 80
        return app.run_plain(sys.stdout, width, once)
    return app.run_full_screen(Console(), sys.stdin.fileno())
