"""Alerts delivered where operators look: a signed JSON webhook, a Slack-compatible webhook,
the Telegram admin chat. ``model`` is the alert and its payloads, ``channels`` the three ways
out, ``delivery`` retries with backoff, de-duplication by alert id and the dead-letter log,
``anomalies`` what the ledger says is unusual, ``watch`` the loop that finds alerts (quota
thresholds and anomalies) and hands them to delivery, ``settings`` the ``[alerts]`` config."""
