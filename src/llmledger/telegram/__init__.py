"""The Telegram bot (``llmledger telegram``): ``/token_usage [days]`` and friends for admins,
``/usage`` for linked end users. ``settings`` reads the token and who may ask, ``render`` makes
the replies (pure text), ``bot`` runs python-telegram-bot (the ``telegram`` extra)."""
