"""Skills-based routing: which skill a handoff needs, and who is offered it first.

``handoff/data/skills.yml`` names the skills and maps topics (intent families or fine intents
of ``nlu/domain.yml``) to them; it is validated when :class:`Routing` is built (at start-up),
every problem as ``FILE:LINE: FIELD: MESSAGE``. At escalation a handoff takes the skill of its
card's topic (the exact intent first, then its family; none when the topic is not mapped).

The queue an agent sees (``handoff/queue.py`` ``for_agent``): the waiting handoffs that match
their skills first, then the others, marked ``matches_skills: false``; each group keeps the
priority order. A handoff matches an agent when it needs no skill, when the agent has its skill
or has no skills set (nothing to match: they see everything), or when it has waited
``ROUTING_FALLBACK_SECONDS`` unclaimed, after which it is offered to everyone.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from types import MappingProxyType

from handoff.queue import for_agent
from handoff.tables import Handoff
from knowledge_base.errors import KnowledgeBaseError
from knowledge_base.yaml_doc import YamlDocument, read_yaml
from nlu.intents import all_intents, intent_family

SKILLS_FILE = Path(__file__).resolve().parent / "data" / "skills.yml"
_NAME_CHARS = frozenset("abcdefghijklmnopqrstuvwxyz0123456789_")
MAX_SKILL = 32  # handoffs.skill is a String(32)


class RoutingConfigError(ValueError):
    """``skills.yml`` is invalid; ``problems`` lists each as "FILE:LINE: FIELD: MESSAGE"."""

    def __init__(self, problems: Iterable[str]) -> None:
        self.problems: list[str] = list(problems) or ["the skills file is invalid"]
        super().__init__("\n".join(self.problems))


class UnknownSkill(ValueError):
    """A skill the skills file does not name; the message lists the valid ones."""


@dataclass(frozen=True, slots=True)
class Skill:
    name: str
    labels: Mapping[str, str]  # language -> label


@dataclass(frozen=True, slots=True)
class SkillMap:
    skills: tuple[Skill, ...]
    topics: Mapping[str, str]  # intent (family or fine) -> skill name

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(s.name for s in self.skills)

    def skill_for(self, topic: str | None) -> str | None:
        """The skill a handoff about ``topic`` (an intent) needs: the exact intent, then its
        family; None when neither is mapped."""
        if not topic:
            return None
        return self.topics.get(topic) or self.topics.get(intent_family(topic))

    def check(self, skills: Iterable[str]) -> list[str]:
        """``skills`` cleaned (stripped, without blanks and repeats, in the file's order);
        :class:`UnknownSkill` names the valid ones."""
        wanted = {s.strip() for s in skills if s.strip()}
        unknown = sorted(wanted - set(self.names))
        if unknown:
            raise UnknownSkill(f"unknown skill(s) {', '.join(unknown)}; "
                               f"valid: {', '.join(self.names)}")
        return [name for name in self.names if name in wanted]


def load_skills(path: Path = SKILLS_FILE) -> SkillMap:
    """Read and validate the skills file; :class:`RoutingConfigError` lists every problem."""
    try:
        doc = read_yaml(path)
    except KnowledgeBaseError as exc:  # syntax errors, duplicate keys: already FILE:LINE
        raise RoutingConfigError(exc.problems) from exc
    problems: list[str] = []
    data = doc.data
    if not isinstance(data, dict):
        raise RoutingConfigError([doc.problem((), "must be a mapping with skills and topics")])
    for key in data:
        if key not in ("skills", "topics"):
            problems.append(doc.problem((key,), "unknown field (expected skills, topics)"))
    skills = _skills(doc, data.get("skills"), problems)
    topics = _topics(doc, data.get("topics"), {s.name for s in skills}, problems)
    if problems:
        raise RoutingConfigError(problems)
    return SkillMap(tuple(skills), MappingProxyType(topics))


def _skills(doc: YamlDocument, raw: object, problems: list[str]) -> list[Skill]:
    if not isinstance(raw, dict) or not raw:
        problems.append(doc.problem(("skills",), "must map each skill to its labels "
                                                 "({ru: ..., en: ...})"))
        return []
    out = []
    for name, labels in raw.items():
        loc = ("skills", name)
        if not isinstance(name, str) or not name or len(name) > MAX_SKILL or \
                not set(name) <= _NAME_CHARS:
            problems.append(doc.problem(loc, f"a skill name is 1-{MAX_SKILL} characters "
                                             "a-z, 0-9, _"))
            continue
        if not isinstance(labels, dict) or not {"ru", "en"} <= set(labels) or not all(
            isinstance(v, str) and v.strip() for v in labels.values()
        ):
            problems.append(doc.problem(loc, "labels: give at least ru and en, each a text"))
            continue
        out.append(Skill(name, MappingProxyType({str(k): str(v) for k, v in labels.items()})))
    return out


def _topics(
    doc: YamlDocument, raw: object, skills: set[str], problems: list[str]
) -> dict[str, str]:
    if raw is None:
        return {}
    if not isinstance(raw, dict):
        problems.append(doc.problem(("topics",), "must map intents to skills"))
        return {}
    intents = set(all_intents())
    topics: dict[str, str] = {}
    for intent, skill in raw.items():
        loc = ("topics", intent)
        if intent not in intents:
            problems.append(doc.problem(loc, f"unknown intent {intent!r} (nlu/domain.yml "
                                             "lists the intent families and fine intents)"))
        elif not isinstance(skill, str) or skill not in skills:
            problems.append(doc.problem(loc, f"unknown skill {skill!r}; the skills are "
                                             f"{', '.join(sorted(skills)) or 'none'}"))
        else:
            topics[str(intent)] = skill
    return topics


class Routing:
    def __init__(self, *, fallback_seconds: int, skills_file: Path = SKILLS_FILE) -> None:
        """Reads ``skills_file`` now, so a broken file stops the start-up, not an escalation."""
        self.fallback_seconds = fallback_seconds
        self.map = load_skills(skills_file)

    def skill_for(self, topic: str | None) -> str | None:
        return self.map.skill_for(topic)

    def arrange(
        self, waiting: Sequence[Handoff], agent_skills: Sequence[str] | None, now: datetime
    ) -> list[tuple[Handoff, bool]]:
        """``waiting`` (in priority order) as this agent sees it: each with whether it
        matches the agent's skills, the matching ones first."""
        return for_agent(waiting, agent_skills, now, fallback_seconds=self.fallback_seconds)
