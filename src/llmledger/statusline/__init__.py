"""``llmledger statusline``: one compact line for a coding agent's status bar, fast enough to
run after every message.

The work is split so that a usual call stays small: ``fast`` (the entry point) reads the
agent's JSON on stdin and only the bytes appended to the current transcript since the last
call (``transcript``, standard library only), prices the new calls with the model rates a
snapshot carries (``pricing``) and prints (``render``). The snapshot, the ledger's figures for
today, this session and the current 5-hour block, is made by ``refresh`` (which opens the
Ledger, files this transcript's new lines in it as a scan would, and the official limit
readings) in a background process at most once a minute, or in the call itself when there is
none yet. Nothing here is imported by anything but the entry points: keep it that way.
"""
