"""What real clients met (#12 finding 6): the sandbox's empty first call is not audited; suggestions are small."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

from tests.contract.cds_app import make_app

HOOKS = Path(__file__).resolve().parents[2] / "fhir_fixtures" / "hooks"
SELECT = "/cds-services/spine-auc-order-select"


def _request(name: str) -> dict[str, Any]:
    return copy.deepcopy(json.loads((HOOKS / f"{name}.json").read_text())["request"])


def test_the_sandboxs_empty_first_call_adds_no_audit_row(tmp_path: Path) -> None:
    app = make_app(tmp_path)
    request = _request("prefetch-full-rated-appropriate")
    order = request["context"]["draftOrders"]["entry"][0]["resource"]
    order["code"] = {"coding": [{}]}  # what the CDS Hooks sandbox sends before a study is chosen
    order.pop("reasonCode", None)
    response = app.test_client().post(SELECT, json=request)
    assert response.status_code == 200
    assert response.get_json() == {"cards": []}
    assert app.extensions["spine_auc.store"].count_consultations() == 0


def test_a_chosen_study_is_still_audited(tmp_path: Path) -> None:
    app = make_app(tmp_path)
    assert app.test_client().post(SELECT, json=_request("prefetch-full-rated-appropriate")).status_code == 200
    assert app.extensions["spine_auc.store"].count_consultations() == 1


def test_swap_suggestions_carry_one_code_per_system(tmp_path: Path) -> None:
    app = make_app(tmp_path)
    body = app.test_client().post(SELECT, json=_request("prefetch-full-rated-swap")).get_json()
    suggestions = [s for card in body["cards"] for s in card.get("suggestions", [])]
    assert suggestions
    for suggestion in suggestions:
        for action in suggestion["actions"]:
            codings = action["resource"]["code"]["coding"]
            non_cpt = [c["system"] for c in codings if c["system"] != "http://www.ama-assn.org/go/cpt"]
            assert len(non_cpt) == len(set(non_cpt))
            assert len(codings) <= 5
