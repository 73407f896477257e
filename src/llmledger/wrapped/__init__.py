"""``llmledger wrapped``: a year in review as a shareable card (PNG with Pillow, SVG as text),
made on this machine from the ledger: ``year`` gathers the figures, ``card`` lays them out once
and draws them on either canvas."""
