"""One agent-log file into the ledger, exactly as a scan would file it (the source's parser
from the file's scan cursor, the same cursor written back), without walking any tree: for the
statusline's refresh and the live view, which know which file changed."""

from __future__ import annotations

from llmledger.ledger import Ledger
from llmledger.scan.cursors import ReadPlan, next_cursor, plan_read
from llmledger.scan.work import Task, run_task
from llmledger.sources.base import FileKind, keep_best, to_event
from llmledger.sources.registry import get_source

__all__ = ["file_one"]

# The whole appended part in one read: these files are read as they grow.
NO_BUDGET = 1 << 62


def file_one(ledger: Ledger, source: str, path: str, kind: FileKind = "jsonl") -> int:
    """File what is new in ``path`` (a file ``source`` reads, of ``kind``); returns the offset
    now filed. Raises OSError when the file cannot be read."""
    parser = get_source(source)
    cursor = ledger.scan_cursors().get(path)
    fingerprint = parser.fingerprint(path)
    plan = plan_read(kind, fingerprint, cursor)
    if plan is None:
        return cursor.offset if cursor is not None else 0
    outcome = run_task(Task(source, path, kind, plan.offset, plan.carry, plan.check, NO_BUDGET))
    if outcome.parsed is None:
        raise OSError(f"{path}: {outcome.error}")
    if outcome.restarted:
        plan = ReadPlan(0, None, None, "changed")
    parsed = outcome.parsed
    events = [to_event(record, source) for record in keep_best(parsed.records).values()]
    cursor = next_cursor(source, path, fingerprint, plan, parsed, outcome.check, cursor)
    ledger.write_scan(events, [cursor])
    return parsed.end_offset
