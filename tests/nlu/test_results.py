from __future__ import annotations

import json

import pytest

from nlu import FALLBACK_INTENT, FAMILIES, Entity, IntentScore, NluResult, intent_family


@pytest.mark.parametrize(
    ("intent", "family"),
    [
        ("check_balance", "check_balance"),
        ("check_balance_tariff", "check_balance"),
        ("roaming_activate", "roaming"),
        ("support_contacts_abroad", "support_contacts"),
        ("greet", "greet"),
        ("out_of_scope_weather", "out_of_scope"),
        ("nlu_fallback", "nlu_fallback"),
        ("something_else", "something_else"),
    ],
)
def test_intent_family(intent: str, family: str) -> None:
    assert intent_family(intent) == family


def test_every_family_is_its_own_family() -> None:
    assert all(intent_family(f) == f for f in FAMILIES)


def rasa_payload(**overrides: object) -> dict[str, object]:
    payload: dict[str, object] = {
        "text": "роуминг в Польше",
        "intent": {"name": "roaming_activate", "confidence": 0.91},
        "entities": [
            {
                "entity": "country",
                "start": 10,
                "end": 16,
                "value": "Польша",
                "extractor": "RegexEntityExtractor",
            },
            {"entity": "country", "start": 0, "end": 0, "value": "Литва", "extractor": None},
        ],
        "intent_ranking": [
            {"name": "roaming_activate", "confidence": 0.91},
            {"name": "check_balance", "confidence": 0.05},
        ],
    }
    payload.update(overrides)
    return payload


def test_from_rasa_reads_intent_ranking_and_entities() -> None:
    text = "роуминг в Польше"
    r = NluResult.from_rasa(rasa_payload(), text=text, lang="ru", model_id="m1")
    assert (r.intent, r.family, r.confidence) == ("roaming_activate", "roaming", 0.91)
    assert r.ranking == (IntentScore("roaming_activate", 0.91), IntentScore("check_balance", 0.05))
    assert r.entities[0] == Entity("country", "Польша", "Польше", 10, 16, "RegexEntityExtractor")
    assert r.entities_dict().get("country") == "Польша"
    assert r.entities_dict().get("phone") is None
    assert r.entities_dict() == {"country": "Польша"}
    assert r.intent != FALLBACK_INTENT
    assert (r.lang, r.model_id, r.text) == ("ru", "m1", text)


def test_fallback_keeps_intent_but_ranks_the_real_intents() -> None:
    payload = rasa_payload(
        intent={"name": "nlu_fallback", "confidence": 0.7},
        intent_ranking=[
            {"name": "nlu_fallback", "confidence": 0.7},
            {"name": "check_balance", "confidence": 0.32},
            {"name": "roaming", "confidence": 0.41},
        ],
        entities=[],
    )
    r = NluResult.from_rasa(payload, text="эээ", lang="ru", model_id="m")
    assert r.intent == FALLBACK_INTENT and r.family == FALLBACK_INTENT
    assert r.confidence == 0.41
    assert [s.name for s in r.ranking] == ["roaming", "check_balance"]


def test_missing_intent_is_a_fallback_with_zero_confidence() -> None:
    payload = {"text": "", "intent": {"name": None, "confidence": 0.0}, "entities": []}
    r = NluResult.from_rasa(payload, text="", lang="ru", model_id="m")
    assert r.intent == FALLBACK_INTENT and r.confidence == 0.0 and r.ranking == ()


@pytest.mark.parametrize("payload", [[], "oops", {"intent": "x"}, {"entities": [{"start": 1}]}])
def test_from_rasa_rejects_what_is_not_a_parse_result(payload: object) -> None:
    with pytest.raises(ValueError, match="not a Rasa parse result"):
        NluResult.from_rasa(payload, text="x", lang="ru", model_id="m")  # type: ignore[arg-type]


def test_round_trips_through_json() -> None:
    r = NluResult.from_rasa(rasa_payload(), text="роуминг в Польше", lang="ru", model_id="m1")
    stored = json.loads(json.dumps(r.to_dict()))
    assert NluResult.from_dict(stored) == r


def test_result_is_frozen() -> None:
    r = NluResult.from_rasa(rasa_payload(), text="x", lang="ru", model_id="m1")
    with pytest.raises(AttributeError):
        r.intent = "greet"  # type: ignore[misc]
