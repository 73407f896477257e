"""Write a realistic fake HOME of coding-agent logs, and the exact totals a correct reader gets.

    python benchmarks/agent_corpus.py OUT_DIR [--claude-files 1000] [--claude-messages 100000]

writes ``OUT_DIR/home`` (Claude Code, Codex CLI, Gemini CLI and OpenCode logs laid out where the
agents write them) and ``OUT_DIR/expected.json``: per source, per day (UTC and
America/New_York), per model, the tokens and the number of billable calls. The totals come
from the generator's own list of the API calls it made up, never from parsing what it wrote.

Every case from notes/agent-logs.md is in it: Claude streaming copies with a growing
``output_tokens`` (and one truncated copy: a malformed line), resumed sessions replaying
earlier calls, sidechain replays, subagent files (both layouts), ``progress`` lines carrying
subagent calls, empty and missing request ids, ``<synthetic>`` lines, 1-hour cache writes,
``~/.config/claude``; Codex re-emitted token counts, ``info: null``, model switches, forks
replaying their parent, archived twins, a rollout without ``turn_context``; Gemini legacy
``.json``, ``.jsonl`` with re-appended records, ``$set`` and ``$rewindTo``, subagent chats and a
migrated ``.json``/``.jsonl`` pair; OpenCode's database, a channel database and legacy message
files overlapping the database. Sessions cluster around midnight (UTC and New York), and user
lines carry long tool results (a few hundred KB now and then).
"""

from __future__ import annotations

import argparse
import json
import random
import sys
import time
from dataclasses import asdict
from pathlib import Path
from zoneinfo import ZoneInfo

from corpus_claude import ClaudeWriter
from corpus_common import UTC, ZONES, Spec, Truth
from corpus_others import CodexWriter, GeminiWriter, OpenCodeWriter


def generate(out: Path, spec: Spec | None = None) -> Truth:
    """Write ``out/home`` and ``out/expected.json``; returns the truth (with every call)."""
    spec = spec or Spec()
    rng = random.Random(spec.seed)
    truth = Truth()
    home = out / "home"
    for writer in (ClaudeWriter, CodexWriter, GeminiWriter, OpenCodeWriter):
        writer(home, spec, random.Random(rng.getrandbits(64)), truth).write()
    document = {
        "description": "Exact totals of the generated corpus, per source, day and model.",
        "spec": asdict(spec),
        "files": dict(truth.files),
        "malformed_lines": dict(truth.malformed),
        "by_zone": {
            name: truth.expected(ZoneInfo(name) if name != "UTC" else UTC) for name in ZONES
        },
    }
    (out / "expected.json").write_text(json.dumps(document, indent=1) + "\n")
    return truth


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("out", type=Path)
    defaults = Spec()
    for name, value in asdict(defaults).items():
        parser.add_argument(f"--{name.replace('_', '-')}", type=type(value), default=value)
    args = parser.parse_args(argv)
    spec = Spec(**{name: getattr(args, name) for name in asdict(defaults)})
    started = time.perf_counter()
    truth = generate(args.out, spec)
    size = sum(p.stat().st_size for p in (args.out / "home").rglob("*") if p.is_file())
    print(
        f"wrote {args.out}/home: {sum(truth.files.values())} files, {size / 1e6:.0f} MB, "
        f"{len(truth.calls)} calls in {time.perf_counter() - started:.1f} s",
        file=sys.stderr,
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
