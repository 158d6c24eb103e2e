"""The report's numbers: counts over result rows, mergeable across partitions, each with the ``jq`` filter
over ``results.ndjson`` that reproduces it.

Definitions (the report states them): a *spine imaging order* is one whose status is not
``not-applicable``; *adherence* is the share of spine imaging orders rated ``usually-appropriate``; an
order's *label* is its category when rated, else its status; a *swap* is the ordered procedure and the
first alternative the result proposes; an *MR-safety hit* is an order with a ``safety[]`` entry of check
``mr-safety``, counted by its status.
"""

from __future__ import annotations

import json
import shlex
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

USUALLY = "usually-appropriate"
NOT_SPINE = "not-applicable"

Key = tuple[str, ...]


def _s(value: str) -> str:
    return json.dumps(value, ensure_ascii=False)


def label(row: dict[str, Any]) -> str:
    return str(row.get("category") or row.get("status") or "")


def month(row: dict[str, Any]) -> str:
    return str(row.get("authoredOn") or "")[:7]


def _id(value: Any) -> str:
    return str(value.get("id") or "") if isinstance(value, dict) else ""


def keys_of(row: dict[str, Any]) -> dict[str, list[Key]]:
    """Every (family, key) a row counts towards."""
    status = str(row.get("status") or "")
    out: dict[str, list[Key]] = {"total": [("all",)], "status": [(status,)]}
    if status == NOT_SPINE:
        return out
    ua = row.get("category") == USUALLY
    out["total"].append(("spine",))
    out["topic"] = [(_id(row.get("topic")), label(row))]
    out["procedure"] = [(_id(row.get("procedure")), label(row))]
    out["month"] = [(month(row), "all"), *([(month(row), "ua")] if ua else [])]
    requester = str(row.get("requester") or "")
    out["requester"] = [(requester, "all"), *([(requester, "ua")] if ua else [])]
    out["missing"] = [(f,) for f in dict.fromkeys(str(m.get("fact")) for m in row.get("missing") or [])]
    out["mr"] = [
        (s,)
        for s in dict.fromkeys(
            str(e.get("status")) for e in row.get("safety") or [] if e.get("check") == "mr-safety"
        )
    ]
    alternatives = row.get("alternatives") or []
    if alternatives:
        out["swap"] = [(_id(row.get("procedure")), _id(alternatives[0].get("procedure")))]
    return out


def jq_select(family: str, key: Key) -> str:
    """The jq condition selecting the rows a (family, key) counts."""
    spine = f".status != {_s(NOT_SPINE)}"
    ua = f" and .category == {_s(USUALLY)}"
    if family == "total":
        return "true" if key[0] == "all" else spine
    if family == "status":
        return f".status == {_s(key[0])}"
    if family in ("topic", "procedure"):
        path = ".topic.id" if family == "topic" else ".procedure.id"
        return f'{spine} and ({path} // "") == {_s(key[0])} and (.category // .status) == {_s(key[1])}'
    if family == "month":
        return f'{spine} and ((.authoredOn // "")[0:7]) == {_s(key[0])}' + (ua if key[1] == "ua" else "")
    if family == "requester":
        return f'{spine} and (.requester // "") == {_s(key[0])}' + (ua if key[1] == "ua" else "")
    if family == "missing":
        return f"{spine} and any(.missing[]?; .fact == {_s(key[0])})"
    if family == "mr":
        return f'{spine} and any(.safety[]?; .check == "mr-safety" and .status == {_s(key[0])})'
    if family == "swap":
        return (
            f'{spine} and (.procedure.id // "") == {_s(key[0])} '
            f'and ((.alternatives[0].procedure.id) // "") == {_s(key[1])}'
        )
    raise ValueError(family)


def jq_command(family: str, key: Key, file: str = "results.ndjson") -> str:
    """A one-line shell command printing the count."""
    program = f"[inputs | select({jq_select(family, key)})] | length"
    return f"jq -n {shlex.quote(program)} {file}"


@dataclass
class Summary:
    counts: dict[str, Counter[Key]] = field(default_factory=dict)
    names: dict[str, str] = field(default_factory=dict)  # topic / procedure id → title / display

    def add(self, row: dict[str, Any]) -> None:
        for family, keys in keys_of(row).items():
            counter = self.counts.setdefault(family, Counter())
            for key in keys:
                counter[key] += 1
        for part in ("topic", "procedure"):
            value = row.get(part)
            if isinstance(value, dict) and value.get("id"):
                self.names.setdefault(str(value["id"]), str(value.get("title") or value.get("display") or ""))
        for alt in row.get("alternatives") or []:
            proc = alt.get("procedure") or {}
            if proc.get("id"):
                self.names.setdefault(str(proc["id"]), str(proc.get("display") or ""))

    def merge(self, other: Summary) -> None:
        for family, counter in other.counts.items():
            self.counts.setdefault(family, Counter()).update(counter)
        for k, v in other.names.items():
            self.names.setdefault(k, v)

    def get(self, family: str, *key: str) -> int:
        return self.counts.get(family, Counter())[tuple(key)]

    def to_json(self) -> dict[str, Any]:
        return {
            "counts": {f: [[list(k), n] for k, n in c.items()] for f, c in self.counts.items()},
            "names": self.names,
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Summary:
        counts = {f: Counter({tuple(k): n for k, n in items}) for f, items in data["counts"].items()}
        return cls(counts, dict(data["names"]))


def summarise_file(path: str) -> dict[str, Any]:
    """A Dask task: the Summary (as JSON) of one results file."""
    summary = Summary()
    with open(path, encoding="utf-8") as handle:
        for line in handle:
            if line.strip():
                summary.add(json.loads(line))
    return summary.to_json()
