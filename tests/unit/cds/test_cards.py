"""CDS Hooks cards and system actions rendered from typed results (app/cds/cards.py)."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from app.cds.cards import (
    PAMA_CONSULT_ID_URL,
    PAMA_RATING_SYSTEM,
    PAMA_RATING_URL,
    SUMMARY_LIMIT,
    build_response,
    card_for,
    system_action,
)
from app.clinical.result import AppliedModifier, SafetyEntry, StatedAssumption
from app.clinical.vocabulary import Category, Indicator, PamaRating, Status
from tests.results import CPT, contraindicated, insufficient, no_criteria, rated

LABEL = "spine-auc (test)"
ORDER: dict[str, Any] = {
    "resourceType": "ServiceRequest",
    "id": "sr1",
    "status": "draft",
    "intent": "order",
    "subject": {"reference": "Patient/p1"},
    "code": {"coding": [{"system": CPT, "code": "72148"}], "text": "MRI L-spine"},
    "extension": [{"url": PAMA_RATING_URL, "valueCodeableConcept": {"coding": [{"code": "stale"}]}}],
}


def card(result: Any) -> dict[str, Any]:
    rendered = card_for(result, ORDER, default_source_label=LABEL)
    assert rendered is not None
    return rendered


def rating_codes(resource: dict[str, Any]) -> list[str]:
    (ext,) = [e for e in resource["extension"] if e["url"] == PAMA_RATING_URL]
    return [c["code"] for c in ext["valueCodeableConcept"]["coding"]]


def test_mr_unsafe_implant_gives_a_critical_card_that_says_why() -> None:
    c = card(contraindicated())
    assert c["indicator"] == "critical"
    assert c["summary"] == (
        "MRI lumbar spine without IV contrast: contraindicated (MR-unsafe implant) — usually not appropriate (2/9)"
    )
    assert "**Modifiers**" in c["detail"]
    assert "- MR-unsafe implant: Contraindicated: MR-unsafe implant." in c["detail"]
    assert "evidence: Device/pacemaker" in c["detail"]
    assert c["overrideReasons"] and c["source"]["topic"]["code"] == "acr-low-back-pain"


def test_the_proposed_alternative_is_a_swap_carrying_its_own_rating() -> None:
    (suggestion,) = card(contraindicated())["suggestions"]
    assert suggestion["isRecommended"] is True
    assert suggestion["label"] == "Order CT myelography lumbar spine instead (usually appropriate, 8/9)"
    (action,) = suggestion["actions"]
    swapped = action["resource"]
    assert swapped["code"]["coding"] == [{"system": CPT, "code": "72265", "display": "CT myelography lumbar"}]
    assert rating_codes(swapped)[:2] == ["appropriate", "usually-appropriate"]
    assert ORDER["code"]["coding"] == [{"system": CPT, "code": "72148"}]  # the draft itself is untouched


def test_a_warning_modifier_alone_makes_a_warning_card() -> None:
    conditional = AppliedModifier(
        "M1-conditional",
        "MR-conditional implant",
        "protocol-warning",
        Indicator.WARNING,
        "Follow the protocol.",
        (),
        "",
        "",
    )
    assert card(rated(modifiers=(conditional,)))["indicator"] == "warning"
    assert card(rated())["indicator"] == "info" and "overrideReasons" not in card(rated())


def test_usually_not_appropriate_is_a_warning() -> None:
    una = rated(category=Category.USUALLY_NOT_APPROPRIATE, score=2, pama_rating=PamaRating.NOT_APPROPRIATE)
    c = card(una)
    assert c["indicator"] == "warning"
    assert c["summary"].endswith(": usually not appropriate (2/9)")


def test_insufficient_data_card_asks_for_the_missing_facts() -> None:
    c = card(insufficient())
    assert c["indicator"] == "warning"
    assert (
        c["summary"] == "MRI lumbar spine without IV contrast: not rated — more clinical information needed"
    )
    assert "cannot be rated yet: the record lacks facts that change the answer" in c["detail"]
    assert "**Missing information** (record it to get a rating)" in c["detail"]
    assert (
        "- How long the low back pain has lasted (if acute → Low Back Pain V1: usually not appropriate; "
        "chronic → Low Back Pain V3: usually appropriate)" in c["detail"]
    )
    assert "suggestions" not in c


def test_no_criteria_card_names_the_order_from_its_own_text() -> None:
    c = card(no_criteria())
    assert c["indicator"] == "info"
    assert c["summary"] == "MRI L-spine: no appropriateness criteria apply"
    assert c["source"] == {"label": "spine-auc criteria"}


def test_not_applicable_gets_neither_card_nor_action() -> None:
    result = no_criteria(status=Status.NOT_APPLICABLE, pama_rating=None)
    assert card_for(result, ORDER, default_source_label=LABEL) is None
    assert system_action(result, ORDER) is None
    assert build_response([(result, ORDER)], [None], legacy_system_actions=True) == {"cards": []}


def test_system_action_records_the_rating_on_the_draft_order() -> None:
    result = rated()
    action = system_action(result, ORDER)
    assert action is not None and action["type"] == "update"
    resource = action["resource"]
    assert rating_codes(resource) == [
        "appropriate",
        "usually-appropriate",
        "8",
    ]  # the stale rating is replaced
    (consult,) = [e for e in resource["extension"] if e["url"] == PAMA_CONSULT_ID_URL]
    assert consult["valueUri"] == result.consultation_id
    coding = next(e for e in resource["extension"] if e["url"] == PAMA_RATING_URL)["valueCodeableConcept"][
        "coding"
    ]
    assert coding[0]["system"] == PAMA_RATING_SYSTEM
    assert {k: v for k, v in resource.items() if k != "extension"} == {
        k: v for k, v in ORDER.items() if k != "extension"
    }


def test_no_criteria_is_recorded_as_no_criteria_apply_and_insufficient_data_not_at_all() -> None:
    action = system_action(no_criteria(), ORDER)
    assert action is not None and rating_codes(action["resource"]) == ["no-criteria-apply"]
    assert system_action(insufficient(), ORDER) is None


def test_response_has_one_card_per_spine_order_and_legacy_actions_when_asked() -> None:
    pairs = [(rated(), ORDER), (insufficient(), ORDER), (no_criteria(status=Status.NOT_APPLICABLE), ORDER)]
    cards = [card_for(result, order, default_source_label=LABEL) for result, order in pairs]
    response = build_response(pairs, cards, legacy_system_actions=True)
    assert [c["indicator"] for c in response["cards"]] == ["info", "warning"]
    assert len(response["systemActions"]) == 1
    assert response["extension"] == {"systemActions": response["systemActions"]}
    plain = build_response(pairs, cards, legacy_system_actions=False)
    assert "extension" not in plain and len(plain["systemActions"]) == 1


def test_long_study_names_keep_the_summary_under_the_limit() -> None:
    long = rated(procedure=replace(rated().procedure, display="MRI " * 60))  # type: ignore[type-var]
    summary = card(long)["summary"]
    assert len(summary) <= SUMMARY_LIMIT and summary.endswith(": usually appropriate (8/9)")


def test_a_critical_safety_entry_makes_a_critical_card_whatever_the_status() -> None:
    entry = SafetyEntry(
        "mr-safety",
        "unsafe",
        Indicator.CRITICAL,
        "contraindicated: MR-unsafe implant (pacemaker)",
        ("Device/p",),
    )
    c = card(replace(insufficient(), safety=(entry,)))
    assert c["indicator"] == "critical"
    assert c["summary"].endswith(": contraindicated (MR-unsafe implant)")
    assert (
        "**Safety**\n- CRITICAL: contraindicated: MR-unsafe implant (pacemaker) — evidence: Device/p"
        in c["detail"]
    )


def test_a_warning_safety_entry_makes_a_warning_card_and_sections_start_on_their_own_line() -> None:
    entry = SafetyEntry(
        "pregnancy", "pregnant", Indicator.WARNING, "pregnant: ionizing radiation", ("Condition/c",)
    )
    assumption = StatedAssumption(
        "intervention_candidate", True, "assumes a candidate", "assume_intervention_candidate"
    )
    c = card(replace(rated(), safety=(entry,), assumptions=(assumption,)))
    assert c["indicator"] == "warning"
    assert "\n\nMatched variants: 3" in c["detail"]
    assert "**Assumptions**\n- assumes a candidate (setting assume\\_intervention\\_candidate)" in c["detail"]
