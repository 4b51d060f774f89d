"""``VkChannel.send``: one reply to one VK dialog, through the real vk-api client.

Retries, back-off and rate limits are the outbox sender's (``bot/outbox.py``); this class only
renders, sends and translates errors. Every part of a reply goes with a ``random_id`` derived
from the outbox row and the part's number, so when a later part fails and the sender retries
the reply, VK recognises the parts it already delivered and does not show them twice (the same
holds for a send that timed out after VK accepted it).
"""

from __future__ import annotations

from bot.channel import PermanentChannelError
from bot.messages import DELIVERY_ID, OutboundMessage
from channels.vk.client import VkClient
from channels.vk.errors import channel_error
from channels.vk.inbound import VK
from channels.vk.rendering import Part, random_id, render


class VkChannel:
    name = VK
    per_address_interval = 0.0  # VK sets no per-dialog pace; one dialog's replies stay in order
    global_rate = 20.0  # a community token may make 20 API calls a second

    def __init__(self, client: VkClient, *, secrets: tuple[str, ...] = ()) -> None:
        self._client = client
        self._secrets = secrets

    async def send(self, address: str, message: OutboundMessage) -> None:
        try:
            peer_id = int(address)
        except ValueError:
            raise PermanentChannelError(f"not a VK peer id: {address!r}") from None
        try:
            parts = render(message)
        except ValueError as exc:
            raise PermanentChannelError(str(exc)) from exc
        delivery = message.metadata.get(DELIVERY_ID)
        for index, part in enumerate(parts):
            ident = random_id(delivery, index, part.text) if delivery is not None else 0
            try:
                await self._send_part(peer_id, part, ident)
            except Exception as exc:
                error = channel_error(exc, secrets=self._secrets)
                if error is None:
                    raise
                raise error from exc

    async def _send_part(self, peer_id: int, part: Part, ident: int) -> None:
        params: dict[str, object] = {
            "peer_id": peer_id, "message": part.text, "random_id": ident, "dont_parse_links": 1,
        }
        if part.keyboard is not None:
            params["keyboard"] = part.keyboard
        await self._client.call("messages.send", **params)
