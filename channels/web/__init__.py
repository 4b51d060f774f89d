"""The web chat: always on, so anyone can try the bot without tokens.

The API router lives in :mod:`channels.web.api` (imported by the app, not here, so that the
composition root can import the channel without importing the routes that depend on it).
"""

from channels.web.channel import WEBCHAT, WebChatChannel

__all__ = ["WEBCHAT", "WebChatChannel"]
