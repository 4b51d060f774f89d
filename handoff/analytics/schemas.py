"""The body of ``GET /api/desk/analytics`` (the analytics page reads it; field names are the API
contract). Shares are 0..1 rounded to 4 places, ``None`` when their denominator is 0."""

from __future__ import annotations

from pydantic import BaseModel, Field

from handoff.schemas import UtcDateTime

RATINGS = ("1", "2", "3", "4", "5")


class PeriodOut(BaseModel):
    from_: UtcDateTime = Field(serialization_alias="from", description="inclusive")
    to: UtcDateTime = Field(description="exclusive")
    timezone: str
    channel: str | None


class ContainmentCounts(BaseModel):
    conversations: int = Field(description="conversations started in the period")
    contained: int = Field(description="of them, never had a handoff")
    share: float | None


class FamilyContainment(ContainmentCounts):
    family: str | None = Field(description="the topic's intent family; None: no topic")


class ChannelContainment(ContainmentCounts):
    channel: str


class Containment(ContainmentCounts):
    by_family: list[FamilyContainment]
    by_channel: list[ChannelContainment]


class RepeatCounts(BaseModel):
    contacts: int = Field(description="conversations with a topic started in the period")
    repeated: int = Field(description="followed within 7 days by the same customer on the "
                                      "same topic family")
    share: float | None


class FamilyRepeat(RepeatCounts):
    family: str


class RepeatContacts(RepeatCounts):
    window_days: int
    by_family: list[FamilyRepeat]


class CsatCounts(BaseModel):
    count: int = Field(description="ratings")
    average: float | None
    distribution: dict[str, int] = Field(description='ratings per value, keys "1".."5"')
    closed: int = Field(description="handoffs closed by an agent")
    unresolved: int = Field(description="closed without a resolution, or rated 1-2")
    unresolved_share: float | None


class AgentCsat(CsatCounts):
    agent: str | None = Field(description="the username; None: handoffs nobody claimed")
    display_name: str | None


class ChannelCsat(CsatCounts):
    channel: str


class Csat(CsatCounts):
    by_agent: list[AgentCsat]
    by_channel: list[ChannelCsat]


class ServiceCounts(BaseModel):
    handoffs: int
    answered: int
    answered_within_target: int
    share_answered_within_target: float | None
    median_wait_seconds: float | None
    p90_wait_seconds: float | None
    abandoned: int


class DayService(ServiceCounts):
    day: str = Field(description="a calendar day in DESK_TIMEZONE, 2026-11-30")


class HourService(ServiceCounts):
    hour: int = Field(description="an hour of the day in DESK_TIMEZONE, 0..23")


class ServiceLevel(BaseModel):
    target_seconds: int
    goal: float
    good: float
    total: ServiceCounts
    per_day: list[DayService]
    per_hour: list[HourService]


class SentimentOut(BaseModel):
    total: int = Field(description="inbound messages with text")
    negative: int
    neutral: int
    positive: int
    shares: dict[str, float | None]
    seed: dict[str, float]


class ReasonCount(BaseModel):
    reason: str
    count: int


class TextCount(BaseModel):
    text: str
    count: int


class GoodwillRefusal(BaseModel):
    rule: str = Field(description="a rule of handoff/data/goodwill.yml, or billing_failed")
    count: int


class GoodwillOut(BaseModel):
    decisions: int = Field(description="handoffs that waited longer than GOODWILL_WAIT_SECONDS "
                                       "and were decided in the period")
    granted: int = Field(description="bonuses the billing confirmed")
    granted_mb: int = Field(description="their total amount (traffic_mb: MB)")
    pending: int = Field(description="granted by the policy, not confirmed by the billing yet")
    refused: int
    refused_by_rule: list[GoodwillRefusal] = Field(description="every rule, in the order "
                                                               "they are checked")
    used: int = Field(description="granted bonuses the billing says were used")
    used_share: float | None = Field(description="used / granted")
    cost: str = Field(description="the granted bonuses' cost, a decimal as text")
    currency: str | None


class AnalyticsOut(BaseModel):
    generated_at: UtcDateTime
    period: PeriodOut
    containment: Containment
    repeat_contacts: RepeatContacts
    csat: Csat
    service_level: ServiceLevel
    sentiment: SentimentOut
    handoff_reasons: list[ReasonCount]
    not_understood: list[TextCount]
    goodwill: GoodwillOut
