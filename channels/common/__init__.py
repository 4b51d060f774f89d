"""What every messaging channel shares: the background worker that answers stored messages,
splitting long replies, and button payloads too long for a platform's limit."""
