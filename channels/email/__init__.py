"""The e-mail channel: IMAP in, SMTP out.

The understanding of one mail is pure and lives in its own modules: ``parsing`` turns raw bytes
into a :class:`~channels.email.parsing.ParsedMail` (any charset, any transfer encoding, never
raising on a broken mail), ``quotes`` keeps only what the subscriber newly wrote (Russian,
Belarusian and English quoting styles, signatures), ``loop_guard`` says which mails must never
get an automatic reply (RFC 3834), and ``subjects`` normalises ``Re:``/``Fwd:`` prefixes for
threading and replies.
"""
