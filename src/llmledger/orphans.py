"""Child processes that never outlive the process that started them.

A scan's worker processes and its ledger-writing process wait on pipes to their parent. If the
parent dies without closing them (``kill -9``, or SIGTERM/SIGHUP from ``timeout`` or cron,
which the parent does not catch) a child would wait forever. ``exit_with_parent``, called first
thing in a child, starts a thread that ends the child once its parent is gone.
"""

from __future__ import annotations

import os
import threading
import time

__all__ = ["exit_with_parent"]

# How often a child looks at its parent: the longest an orphan lives.
CHECK_EVERY = 0.25


def exit_with_parent(check_every: float = CHECK_EVERY) -> None:
    """End this process (at once, status 1) when the process that started it is gone."""
    parent = os.getppid()

    def watch() -> None:
        while os.getppid() == parent:  # an orphan is handed to another process
            time.sleep(check_every)
        os._exit(1)

    threading.Thread(target=watch, name="llmledger-exit-with-parent", daemon=True).start()
