"""Structure-aware fuzzing for the fuzz tests: real requests built from our fixtures, then mutated.

A case is a base document (a CDS Hooks request, a REST Bundle, a ``Parameters``) and one to three
mutations at paths drawn from that document: a value replaced by a hostile value (a lone surrogate, a
control character, a huge or odd number, the wrong JSON type, a deep nesting), a key deleted, a list
emptied or repeated. Every answer must be < 500 with an OperationOutcome or the endpoint's own answer.
"""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

from hypothesis import strategies as st

ROOT = Path(__file__).resolve().parents[2]
HOOKS = ROOT / "fhir_fixtures" / "hooks"
PATIENTS = ROOT / "fhir_fixtures" / "patients"
ORDERS = ROOT / "fhir_fixtures" / "orders"

HOSTILE_STRINGS = [
    "\ud800",
    "\udfff",
    "\x00",
    "\u202e",
    "💥",
    "",
    " ",
    "A" * 5000,
    "7" * 200,
    "M54.5" + "0" * 300,
    "../../etc/passwd",
    "%s%s%n",
    "' OR 1=1 --",
    "<script>alert(1)</script>",
    "urn:uuid:",
    "Patient/",
    "http://169.254.169.254/latest",
    "ServiceRequest",
    "Bundle",
    "OperationOutcome",
    "2026-02-30",
    "9999-12-31T23:59:59Z",
    "-0001-01-01",
]
hostile_scalars = st.one_of(
    st.sampled_from(HOSTILE_STRINGS),
    st.text(max_size=40),
    st.integers(min_value=-(2**70), max_value=2**70),
    st.floats(allow_nan=False),
    st.booleans(),
    st.none(),
)
hostile_values = st.recursive(
    hostile_scalars,
    lambda children: st.one_of(
        st.lists(children, max_size=4),
        st.dictionaries(
            st.sampled_from(["coding", "code", "system", "resourceType", "id", "reference", "x"]),
            children,
            max_size=4,
        ),
    ),
    max_leaves=8,
)


def _load(path: Path) -> Any:
    return json.loads(path.read_text())


def hook_requests() -> list[dict[str, Any]]:
    """The CDS Hooks requests of our hook fixtures (valid ones and malformed ones)."""
    return [_load(p)["request"] for p in sorted(HOOKS.glob("*.json"))]


def rest_bundles() -> list[dict[str, Any]]:
    """Inline Bundles: a few fixture patients with a few fixture orders each."""
    bundles = []
    patients = sorted(PATIENTS.glob("*.json"))[:6]
    orders = sorted(ORDERS.glob("*.json"))[:6]
    for i, patient_path in enumerate(patients):
        patient = _load(patient_path)
        resources = [e["resource"] for e in patient["entry"]]
        subject = next(r for r in resources if r.get("resourceType") == "Patient")["id"]
        order = _load(orders[i % len(orders)])
        order["subject"] = {"reference": f"Patient/{subject}"}
        bundles.append(
            {
                "resourceType": "Bundle",
                "type": "collection",
                "entry": [{"resource": r} for r in [order, *resources]],
            }
        )
    return bundles


def _paths(doc: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    out = [prefix]
    if isinstance(doc, dict):
        for key, value in doc.items():
            out.extend(_paths(value, (*prefix, key)))
    elif isinstance(doc, list):
        for index, value in enumerate(doc):
            out.extend(_paths(value, (*prefix, index)))
    return out


def _parent(doc: Any, path: tuple[Any, ...]) -> Any:
    for step in path[:-1]:
        doc = doc[step]
    return doc


def mutate(doc: Any, path: tuple[Any, ...], kind: str, value: Any) -> Any:
    """``doc`` with one mutation at ``path`` (a copy); the root itself can only be replaced."""
    if not path:
        return value if kind == "replace" else doc
    doc = copy.deepcopy(doc)
    parent, key = _parent(doc, path), path[-1]
    if kind == "replace":
        parent[key] = value
    elif kind == "delete":
        del parent[key]
    elif kind == "empty" and isinstance(parent[key], list | dict):
        parent[key] = type(parent[key])()
    elif kind == "repeat" and isinstance(parent[key], list):
        parent[key] = parent[key] * 30
    elif kind == "nest":
        nested: Any = parent[key]
        for _ in range(200):
            nested = {"x": [nested]}
        parent[key] = nested
    return doc


@st.composite
def mutated(draw: st.DrawFn, bases: list[Any]) -> Any:
    """A base document with one to three mutations at paths that exist in it."""
    doc = copy.deepcopy(draw(st.sampled_from(bases)))
    for _ in range(draw(st.integers(min_value=1, max_value=3))):
        paths = _paths(doc)
        path = draw(st.sampled_from(paths))
        kind = draw(st.sampled_from(["replace", "replace", "replace", "delete", "empty", "repeat", "nest"]))
        doc = mutate(doc, path, kind, draw(hostile_values) if kind == "replace" else None)
    return doc


def encode(doc: Any) -> bytes:
    """JSON with escapes (a lone surrogate travels as ``\\ud800``, as a client would send it)."""
    return json.dumps(doc, ensure_ascii=True).encode()


def check_answer(response: Any, answer_keys: set[str]) -> None:
    """< 500, a JSON object: an OperationOutcome or the endpoint's own answer."""
    assert response.status_code < 500, response.get_data(as_text=True)[:500]
    body = response.get_json(silent=True)
    assert isinstance(body, dict), response.get_data(as_text=True)[:200]
    if body.get("resourceType") == "OperationOutcome":
        assert response.status_code >= 400 and body["issue"], body
    else:
        assert response.status_code == 200 and answer_keys & (set(body) | {body.get("resourceType")}), body
