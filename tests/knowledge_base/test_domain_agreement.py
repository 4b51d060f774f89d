"""The NLU domain (the owner of the intents) and the knowledge base agree; so does the training
data. A family added to one and not the other fails here, naming what is missing."""

from __future__ import annotations

from pathlib import Path

import yaml

from knowledge_base import DEFAULT_DATA_DIR, KnowledgeBase
from nlu.intents import all_intents, families, family_of

NLU_DATA = Path(__file__).resolve().parents[2] / "nlu" / "data"


def _labels_file() -> dict[str, object]:
    data = yaml.safe_load((DEFAULT_DATA_DIR / "intent_labels.yml").read_text(encoding="utf-8"))
    assert isinstance(data, dict)
    return data


def _trained_intents() -> set[str]:
    found: set[str] = set()
    for path in NLU_DATA.glob("*.yml"):
        data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
        found |= {item["intent"] for item in data.get("nlu", []) if "intent" in item}
    return found


def test_every_domain_intent_has_a_label_and_every_label_an_intent() -> None:
    labels = set(_labels_file()["intent_labels"])  # type: ignore[arg-type]
    assert labels - set(all_intents()) == set(), "labels for intents the domain does not have"
    assert set(all_intents()) - labels == set(), "domain intents without a label"


def test_topics_are_families_of_the_domain() -> None:
    data = _labels_file()
    listed = [*data["topics"], *data.get("not_topics", [])]  # type: ignore[misc]
    assert [name for name in listed if name not in families()] == []


def test_every_domain_intent_is_trained_and_nothing_else() -> None:
    assert _trained_intents() == set(all_intents())


def test_every_family_has_an_article(kb: KnowledgeBase) -> None:
    answered = {family_of(article.intent) for article in kb.articles}
    assert set(families()) - answered == set()


def test_the_knowledge_base_offers_its_topics(kb: KnowledgeBase) -> None:
    assert kb.topics == ("check_balance", "my_number", "roaming", "support_contacts")
    assert not kb.is_topic("greet") and not kb.is_topic("nlu_fallback")
    assert kb.is_topic("roaming_trouble") and kb.is_topic("complaint")
    # not offered as a topic button, but a fair guess in a clarifying question
    assert kb.is_topic("tariff") and kb.is_topic("roaming_enable")


def test_texts_have_a_field_for_every_language() -> None:
    """Adding a language to nlu.languages without a field for its texts fails here."""
    from knowledge_base.schema import LocalizedText
    from nlu.languages import LANGUAGES

    assert set(LocalizedText.model_fields) == set(LANGUAGES)
