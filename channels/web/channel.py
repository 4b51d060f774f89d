"""The web chat channel: replies are pulled by the page (the POST answer and long polling), so
sending only marks them delivered."""

from __future__ import annotations

from bot.messages import OutboundMessage

WEBCHAT = "webchat"


class WebChatChannel:
    name = WEBCHAT
    per_address_interval = 0.0
    global_rate = 0.0

    async def send(self, address: str, message: OutboundMessage) -> None:
        return None
