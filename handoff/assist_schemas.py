"""Bodies of the agent-assist routes (``handoff/assist_api.py``)."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field

# why a verified subscriber's live figures are missing (``figures: null``)
FiguresReason = Literal[
    "not_verified",  # the subscriber has no proven number: nothing personal to show
    "billing_unavailable",  # the app has no billing
    "billing_failed",  # the billing did not answer in time, or answered with an error
    "not_a_subscriber",  # the billing does not know the number (not the operator's)
]


class SuggestionOut(BaseModel):
    article: str = Field(description="the knowledge-base article id")
    title: str = Field(description="the article's topic label in the subscriber's language")
    text: str = Field(description="the answer an agent could send, plain text, in the "
                                  "subscriber's language")
    score: float = Field(description="relevance; higher is better (only positive ones listed)")
    reason: str = Field(description="what made it relevant, e.g. 'intent roaming_trouble; "
                                    "words: роуминг'")


class FiguresOut(BaseModel):
    """A verified subscriber's account as the billing says it now (never cached)."""

    balance: str = Field(description='the exact decimal amount, e.g. "12.34" or "-3.50"')
    currency: str = Field(description="ISO 4217, e.g. BYN")
    tariff: str | None = None
    roaming_enabled: bool
    status: str = Field(description="as the billing says: active, blocked…")


class AssistOut(BaseModel):
    conversation_id: str
    handoff_id: int
    lang: str = Field(description="the language of the suggestions (the conversation's)")
    suggestions: list[SuggestionOut] = Field(description="at most three, best first")
    figures: FiguresOut | None = None
    figures_reason: FiguresReason | None = Field(
        None, description="why figures is null (null when figures are present)")


class AssistUsedIn(BaseModel):
    article: str = Field(min_length=1, max_length=64)
    action: Literal["inserted", "sent"] = Field(
        description="inserted: the agent put it into the reply box; sent: the reply that "
                    "contained it went to the subscriber")
