"""The exploration over unknown facts (app/clinical/engine.py) and what it concludes (conclusion.py).

A small topic is built on the real criteria (same catalogue and categories) so each test says exactly which
variant hinges on which unknown fact.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import date

from conftest import NCI, condition, med, patient

from app.clinical.conclusion import assess
from app.clinical.engine import MAX_READINGS, Exploration, NotApplicable, explore
from app.clinical.facts import Fact, PatientFacts, UnknownGroup
from app.clinical.orders import OrderedProcedure
from app.clinical.vocabulary import Category, Status
from app.criteria.model import Criteria, Expr, RoutingRule, Row, Topic, Variant

MRI = OrderedProcedure(("mri-lumbar-wo",), frozenset(), "code", "identified by code", ())
IS_MRI: Expr = {"procedure": "modality", "in": ["MR"]}
UA, UNA = Category.USUALLY_APPROPRIATE.value, Category.USUALLY_NOT_APPROPRIATE.value


def variant(number: int, when: Expr, category: str) -> Variant:
    row = Row("mri-lumbar-wo", "MRI lumbar spine without IV contrast", category, None, "O", "O", "test")
    return Variant(number, f"variant {number}", when, (row,), True, "test", ())


def world(criteria: Criteria, *variants: Variant, precedence: tuple[int, ...] | None = None) -> Criteria:
    """The real criteria with one test topic that every MRI is routed to, and no modifiers."""
    topic = Topic(
        "test-topic",
        "Test topic",
        "2026",
        "",
        "",
        "adults",
        "test",
        variants,
        precedence or tuple(v.number for v in variants),
    )
    routing = (RoutingRule("to-test", IS_MRI, topic.id, "an MRI"),)
    return replace(criteria, topics={topic.id: topic}, routing=routing, derived_facts={}, modifiers=())


def facts(known: dict[str, bool], unknown: tuple[str, ...] = ()) -> PatientFacts:
    """Known facts as given; each unknown fact in its own group, read "yes" then "no"."""
    pf = PatientFacts(date(2026, 11, 1), 50)
    for name, value in known.items():
        pf.facts[name] = Fact(name, value, f"{name}: {value}")
    for name in unknown:
        group = f"{name}?"
        pf.facts[name] = Fact(name, None, f"{name} unknown", group=group)
        pf.groups[group] = UnknownGroup(
            group, f"whether {name}", (("yes", {name: True}), ("no", {name: False}))
        )
    return pf


def explored(criteria: Criteria, pf: PatientFacts) -> Exploration:
    result = explore(MRI, pf, criteria)
    assert isinstance(result, Exploration)
    return result


def test_known_facts_give_one_reading(criteria: Criteria) -> None:
    c = world(criteria, variant(1, {"fact": "a"}, UA), variant(2, {"not": {"fact": "a"}}, UNA))
    result = explored(c, facts({"a": True}))
    assert [r.assignment for r in result.readings] == [{"procedure": "MRI lumbar spine without IV contrast"}]
    assert result.agreed and result.readings[0].outcome.best is not None
    assert result.readings[0].outcome.best.variant == 1


def test_readings_that_agree_give_a_rating_and_name_the_unknown_that_did_not_matter(
    criteria: Criteria,
) -> None:
    c = world(criteria, variant(1, {"fact": "a"}, UNA), variant(2, {"not": {"fact": "a"}}, UNA))
    pf = facts({}, unknown=("a",))
    result = explored(c, pf)
    assert [r.assignment["a?"] for r in result.readings] == ["yes", "no"]
    assert result.agreed
    assessment = assess(MRI, pf, c)
    assert assessment.status is Status.RATED and assessment.category is Category.USUALLY_NOT_APPROPRIATE
    assert assessment.unknowns_not_mattering == ("whether a",)
    assert assessment.matched_variants == (1, 2)


def test_readings_that_disagree_give_insufficient_data_with_each_answer(criteria: Criteria) -> None:
    c = world(criteria, variant(1, {"fact": "a"}, UA), variant(2, {"not": {"fact": "a"}}, UNA))
    pf = facts({}, unknown=("a",))
    assert not explored(c, pf).agreed
    assessment = assess(MRI, pf, c)
    assert assessment.status is Status.INSUFFICIENT_DATA and assessment.category is None
    (missing,) = assessment.missing
    assert missing.fact == "a?" and missing.text == "whether a"
    assert [(o.value, o.outcome) for o in missing.options] == [
        ("yes", "Test topic V1: usually appropriate"),
        ("no", "Test topic V2: usually not appropriate"),
    ]


def test_only_the_unknowns_a_decision_hinges_on_are_explored(criteria: Criteria) -> None:
    # "b" is unknown but no variant is reached that reads it: no reading branches on it.
    c = world(
        criteria, variant(1, {"fact": "a"}, UA), variant(2, {"all": [{"fact": "a"}, {"fact": "b"}]}, UNA)
    )
    result = explored(c, facts({"a": False}, unknown=("b",)))
    assert len(result.readings) == 1 and "b?" not in result.readings[0].assignment


def test_more_than_max_readings_stops_the_enumeration_and_does_not_rate(criteria: Criteria) -> None:
    names = tuple(f"f{i}" for i in range(9))  # 2**9 = 512 readings > 256
    c = world(criteria, *(variant(i + 1, {"fact": n}, UA) for i, n in enumerate(names)))
    pf = facts({}, unknown=names)
    result = explored(c, pf)
    assert result.truncated and not result.agreed
    assert len(result.readings) == MAX_READINGS
    assessment = assess(MRI, pf, c)
    assert assessment.status is Status.INSUFFICIENT_DATA
    assert f"more than {MAX_READINGS} combinations" in assessment.text
    assert [m.fact for m in assessment.missing] == [f"{n}?" for n in names]  # every group it branched on


def test_eight_unknowns_are_still_enumerated_in_full(criteria: Criteria) -> None:
    names = tuple(f"f{i}" for i in range(8))  # 2**8 = 256 readings: exactly the cap
    c = world(criteria, *(variant(i + 1, {"fact": n}, UA) for i, n in enumerate(names)))
    result = explored(c, facts({}, unknown=names))
    assert not result.truncated and len(result.readings) == MAX_READINGS


def test_a_tie_in_category_is_broken_by_the_topics_precedence(criteria: Criteria) -> None:
    both = (variant(1, IS_MRI, UA), variant(2, IS_MRI, UA))
    first = explored(world(criteria, *both), facts({})).readings[0].outcome
    assert first.best is not None and first.best.variant == 1 and first.matched == (1, 2)
    reordered = explored(world(criteria, *both, precedence=(2, 1)), facts({})).readings[0].outcome
    assert reordered.best is not None and reordered.best.variant == 2


def test_the_better_category_wins_over_precedence(criteria: Criteria) -> None:
    c = world(criteria, variant(1, IS_MRI, UNA), variant(2, IS_MRI, UA))
    outcome = explored(c, facts({})).readings[0].outcome
    assert (
        outcome.best is not None
        and outcome.best.variant == 2
        and outcome.category is Category.USUALLY_APPROPRIATE
    )


def test_an_order_for_no_catalogue_study_is_not_applicable(criteria: Criteria) -> None:
    nothing = OrderedProcedure((), frozenset(), "none", "no code or text we know", ())
    result = explore(nothing, facts({}), criteria)
    assert result == NotApplicable(None, "no code or text we know")
    assert assess(nothing, facts({}), criteria).status is Status.NOT_APPLICABLE


UNSAFE_DEVICE = {
    "resourceType": "Device",
    "id": "dev1",
    "patient": {"reference": "Patient/p1"},
    "safety": [{"coding": [{"system": NCI, "code": "C106047"}]}],
}
CHRONIC = (patient(), condition("c", "M54.50", onset="2026-05-01"), med("m", "7258", start="2026-09-01"))
