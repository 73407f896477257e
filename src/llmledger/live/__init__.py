"""``llmledger live``: a full-screen terminal view that follows the agents as they write.

``watch`` watches the agents' log folders (inotify and its kin, through watchfiles: no polling
of the trees) and names the files that changed; ``app`` files them in the ledger as a scan
would (``file_one``), rebuilds the ``board`` (the active 5-hour blocks with burn rate and
projection, today's totals by agent and model, the official limit windows, the latest calls)
and draws it with Rich (``view``); keys switch views and time zones, ``q`` quits. Without a
terminal that can do full screen it prints a plain table whenever something changed.
"""
