"""The operator's back office as the bot reaches it: billing (BSS) and the SMS gateway, over
HTTP when configured, otherwise as an embedded, clearly marked demo (``make run`` shows the
whole flow with no back office). Implements ``bot/backoffice_contract.py``."""
