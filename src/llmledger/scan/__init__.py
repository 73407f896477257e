"""The scan: find the agents' log files, read what is new in them (in worker processes when
there is much to read), and write the records into the ledger with the files' cursors.

``llmledger.sources`` holds one module per agent (its file locations and its parser); this
package is the engine that runs them.
"""

from llmledger.scan.run import ScanResult, SkippedFile, SourceSummary, scan

__all__ = ["ScanResult", "SkippedFile", "SourceSummary", "scan"]
