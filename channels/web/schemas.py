"""Request and response bodies of the web chat API (see ARCHITECTURE.md, "Web chat API")."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, StrictStr, model_validator

from nlu.languages import Lang

MAX_ID = 128
# Ids and payloads are printable text: NUL and other control characters are refused (422), not
# stored (PostgreSQL cannot store NUL).
USER_ID_PATTERN = r"^[\w.:@-]+$"
PRINTABLE = r"^[^\x00-\x1f\x7f]+$"


class WebChatMessageIn(BaseModel):
    model_config = ConfigDict(extra="ignore")

    user_id: StrictStr = Field(min_length=1, max_length=MAX_ID, pattern=USER_ID_PATTERN)
    # its length limit is WEBCHAT_MAX_TEXT, checked by the route (settings are per app); the
    # body limit (ABONENT_MAX_BODY_BYTES) bounds it before that
    text: StrictStr | None = None
    payload: StrictStr | None = Field(None, min_length=1, max_length=1000, pattern=PRINTABLE)
    lang: Lang | None = None
    message_id: StrictStr | None = Field(None, min_length=1, max_length=MAX_ID, pattern=PRINTABLE)

    @model_validator(mode="after")
    def _text_or_payload(self) -> WebChatMessageIn:
        if self.text is not None:
            self.text = _clean(self.text)
        if not (self.text and self.text.strip()) and not self.payload:
            raise ValueError("send a non-empty 'text' (or the 'payload' of a pressed button)")
        return self


def _clean(text: str) -> str:
    """Drop NUL and other control characters (PostgreSQL cannot store NUL); keep line breaks."""
    return "".join(ch for ch in text if ch >= " " or ch in "\n\t")


class ButtonOut(BaseModel):
    title: str
    payload: str


class ReplyOut(BaseModel):
    id: str
    text: str
    buttons: list[ButtonOut]
    sender: str
    request_phone: bool = False


class WebChatAnswer(BaseModel):
    conversation_id: str
    state: Literal["bot", "waiting_agent", "with_agent", "closed"]
    replies: list[ReplyOut]
    cursor: str
    # only in the first answer to a new user_id: send it back as X-Webchat-Token (or rely on
    # the abonent_webchat cookie set with it); it is never shown again
    session_token: str | None = Field(
        None, description="the new session's token; in the first answer to a new user_id only"
    )


class WebChatUpdates(BaseModel):
    replies: list[ReplyOut]
    cursor: str
    state: Literal["bot", "waiting_agent", "with_agent", "closed"] | None
