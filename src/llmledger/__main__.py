"""``python -m llmledger``: the same command line as the ``llmledger`` script."""

from __future__ import annotations

from llmledger.cli.main import run

if __name__ == "__main__":
    run()
