"""`spine-auc criteria check` passes on the bundled criteria and fails loudly, with locations, on broken copies."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from click.testing import CliRunner
from conftest import REPO

from app.cli import main
from app.criteria.loader import check_criteria, load_criteria
from app.errors import CriteriaError


@pytest.fixture()
def copy(tmp_path: Path) -> Path:
    target = tmp_path / "criteria"
    shutil.copytree(REPO / "criteria", target)
    return target


def edit(path: Path, change) -> None:  # type: ignore[no-untyped-def]
    doc = json.loads(path.read_text(encoding="utf-8"))
    change(doc)
    path.write_text(json.dumps(doc), encoding="utf-8")


def test_bundled_criteria_pass():
    result = CliRunner().invoke(main, ["criteria", "check"])
    assert result.exit_code == 0, result.output
    assert "OK" in result.output and "6 topics" in result.output


def test_invalid_category_is_reported_with_file_and_json_path(copy):
    edit(
        copy / "topics/acr-low-back-pain.json",
        lambda d: d["variants"][0]["rows"][0].__setitem__("category", "sometimes-ok"),
    )
    problems = check_criteria(copy)
    assert any(
        p.startswith("topics/acr-low-back-pain.json:$.variants[0].rows[0].category:") for p in problems
    )
    result = CliRunner().invoke(main, ["criteria", "check", "--dir", str(copy)])
    assert result.exit_code == 1
    assert "topics/acr-low-back-pain.json:$.variants[0].rows[0].category" in result.output


def test_invented_rating_out_of_range_is_refused(copy):
    edit(copy / "topics/acr-myelopathy.json", lambda d: d["variants"][0]["rows"][0].__setitem__("rating", 12))
    assert any(".rows[0].rating" in p for p in check_criteria(copy))


def test_unknown_procedure_reference_is_a_cross_reference_error(copy):
    edit(
        copy / "topics/acr-low-back-pain.json",
        lambda d: d["variants"][2]["rows"][0].__setitem__("procedure", "mri-lumbar-made-up"),
    )
    problems = check_criteria(copy)
    assert problems == [
        "topics/acr-low-back-pain.json:$.variants[2].rows[0].procedure: unknown procedure "
        "'mri-lumbar-made-up'"
    ]


def test_unknown_fact_in_a_variant_condition_is_reported(copy):
    edit(
        copy / "topics/acr-back-pain-child.json",
        lambda d: d["variants"][0].__setitem__("when", {"fact": "moon_phase"}),
    )
    assert any("$.variants[0].when: unknown fact 'moon_phase'" in p for p in check_criteria(copy))


def test_unknown_value_set_in_settings_is_reported(copy):
    edit(
        copy / "settings.json", lambda d: d["facts"]["cancer"].__setitem__("conditionValueSets", ["tumours"])
    )
    assert any(
        p.startswith("settings.json:$.facts.cancer.conditionValueSets[0]") for p in check_criteria(copy)
    )


def test_not_json_and_missing_file_are_reported(copy):
    (copy / "modifiers.json").write_text("{not json", encoding="utf-8")
    (copy / "routing.json").unlink()
    problems = check_criteria(copy)
    assert any(p.startswith("modifiers.json:$: not valid JSON") for p in problems)
    assert "routing.json:$: file not found" in problems


def test_load_raises_with_every_problem(copy):
    edit(copy / "settings.json", lambda d: d["thresholds"].pop("chronicFromDays"))
    with pytest.raises(CriteriaError) as err:
        load_criteria(copy)
    assert any("chronicFromDays" in p for p in err.value.problems)


def test_service_refuses_to_start_on_invalid_criteria(copy):
    from app import create_app

    edit(copy / "manifest.json", lambda d: d.__setitem__("criteriaVersion", "latest"))
    with pytest.raises(CriteriaError):
        create_app({"CRITERIA_DIR": str(copy), "TESTING": True})
