"""Value-set matching is linear in the code's length; over-long codes and texts are cut before matching (#12)."""

from __future__ import annotations

import time
from typing import Any

import orjson

from app.clinical.input_limits import InputLimits, clip_codes_and_texts, within_limits
from app.clinical.terminology import concept_tags, longest_prefix
from app.config import DEFAULTS
from app.criteria.loader import load_criteria

CRITERIA = load_criteria(DEFAULTS["CRITERIA_DIR"])
ICD = "http://hl7.org/fhir/sid/icd-10-cm"


def _concept(code: str) -> dict[str, Any]:
    return {"coding": [{"system": ICD, "code": code}]}


def test_a_one_megabyte_code_is_matched_in_linear_time() -> None:
    # Before: every prefix of the code was sliced and looked up (quadratic): > 30 s for 1 MB.
    started = time.perf_counter()
    tags = concept_tags(_concept("M" + "5" * 1_000_000), CRITERIA)
    elapsed = time.perf_counter() - started
    assert elapsed < 2.0, f"{elapsed:.1f} s for a 1 MB code"
    assert isinstance(tags, dict)


def test_prefix_matching_still_finds_a_code_by_its_category() -> None:
    short = concept_tags(_concept("M54.50"), CRITERIA)
    assert short, "a low back pain code belongs to at least one value set"
    # The same code with a long tail matches the same prefix value sets (prefixes are at most a few chars).
    longer = concept_tags(_concept("M5450" + "9" * 50), CRITERIA)
    assert {k for k, m in short.items() if m.by == "prefix"} <= set(longer)


def test_longest_prefix_is_memoised_per_index() -> None:
    prefixes = CRITERIA.vs_prefix[ICD]
    assert longest_prefix(prefixes) == max(len(p) for p in prefixes)
    assert longest_prefix({"ab": (), "abcdef": ()}) == 6


def test_over_long_codes_are_removed_and_texts_cut_with_notes() -> None:
    resource = {
        "resourceType": "Condition",
        "code": {"coding": [{"system": ICD, "code": "X" * 101, "display": "d" * 5000}], "text": "ok"},
        "note": [{"text": "t" * 4097}],
    }
    notes = clip_codes_and_texts(resource, InputLimits(max_code_length=100, max_text_length=4096))
    coding = resource["code"]["coding"][0]
    assert "code" not in coding and coding["system"] == ICD
    assert len(coding["display"]) == 4096 and len(resource["note"][0]["text"]) == 4096
    assert resource["code"]["text"] == "ok"
    assert len(notes) == 2 and "MAX_CODE_LENGTH" in notes[0] and "MAX_TEXT_LENGTH" in notes[1]


def test_codes_within_the_limit_are_untouched_and_give_no_note() -> None:
    resource = {"code": {"coding": [{"system": ICD, "code": "M54.50"}]}}
    assert clip_codes_and_texts(resource, InputLimits()) == []
    assert resource["code"]["coding"][0]["code"] == "M54.50"


def test_clipping_is_iterative_and_survives_deep_nesting() -> None:
    deep: dict[str, Any] = {"code": "Y" * 200}
    for _ in range(5000):
        deep = {"x": [deep]}
    assert len(clip_codes_and_texts(deep, InputLimits())) == 1


def test_the_encoded_pre_check_never_misses_what_the_walk_cuts() -> None:
    limits = InputLimits(max_code_length=5, max_text_length=8)
    escaped = {"a": [{"code": 'ab"c\\d', "text": 'x"\n"y'}, {"display": "\u0001" * 9, "code": "abc"}]}
    assert not within_limits(orjson.dumps(escaped), limits)
    assert len(clip_codes_and_texts(escaped, limits)) == 2
    assert escaped == {"a": [{"text": 'x"\n"y'}, {"display": "\u0001" * 8, "code": "abc"}]}
    for over in (
        {"code": "x" * 6},
        {"x": [{"text": "\u00e9" * 9}]},
        {"display": '"' * 9},
        {"code": "\\" * 6},
    ):
        assert not within_limits(orjson.dumps(over), limits), over
        assert clip_codes_and_texts(over, limits)
    within = {
        "code": '"\\"\\"',
        "text": '""""""""',
        "display": "x" * 8,
        "other": "y" * 99,
        "c": {"code": "ab"},
    }
    assert within_limits(orjson.dumps(within), limits)
    assert within_limits(orjson.dumps(within), InputLimits())
    assert clip_codes_and_texts(within, limits) == []


def test_name_search_finds_what_the_value_set_patterns_find() -> None:
    """The factored name searches match exactly where the loader's patterns do (whole words only)."""
    from app.clinical.terminology import name_tags

    texts = [
        "naproxen 500 mg tablet",
        "NAPROXEN",
        "naproxens",
        "xnaproxen",
        "Magnetic Resonance Conditional",
        "mr conditional implant",
        "metformin",
        "ibuprofen/naproxen",
        "",
    ]
    for text in texts:
        expected = [v for v, p in CRITERIA.vs_name_patterns.items() if p.search(text.lower())]
        assert list(name_tags({"text": text}, CRITERIA)) == expected, text
