"""The web chat: always on, so anyone can try the bot without tokens."""

from channels.web.api import router
from channels.web.channel import WEBCHAT, WebChatChannel

__all__ = ["WEBCHAT", "WebChatChannel", "router"]
