"""Matching FHIR codings against the criteria's value sets (pure; standard library only)."""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any, NamedTuple

from app.criteria.model import ICD10CM, Criteria, ValueSet


def normalise_code(system: str, code: str) -> str:
    """ICD-10-CM codes compare upper-case without the dot (``M54.50`` == ``M5450``); others as given."""
    code = code.strip()
    if system == ICD10CM:
        return code.upper().replace(".", "")
    return code


def display_code(system: str, code: str) -> str:
    """A code as clinicians write it: ICD-10-CM with its dot after the category (``Z7952`` → ``Z79.52``)."""
    if system != ICD10CM:
        return code
    norm = normalise_code(system, code)
    return f"{norm[:3]}.{norm[3:]}" if len(norm) > 3 else norm


@dataclass(frozen=True)
class Match:
    value_set: str
    by: str  # "code" | "prefix" | "name"
    code: str  # "system|code" as recorded (the text, for a name match)
    weak: bool = False


def codings_of(concept: Any) -> list[dict[str, Any]]:
    """The codings of a CodeableConcept dict; raises ValueError when the shape is not a CodeableConcept."""
    if concept is None:
        return []
    if not isinstance(concept, dict):
        raise ValueError("expected a CodeableConcept object")
    codings = concept.get("coding")
    if codings is None:
        return []
    if not isinstance(codings, list):
        raise ValueError("CodeableConcept.coding is not a list")
    return [c for c in codings if isinstance(c, dict)]


def texts_of(concept: Any) -> list[str]:
    """The human-readable strings of a CodeableConcept (text and coding displays)."""
    if not isinstance(concept, dict):
        return []
    out = [concept["text"]] if isinstance(concept.get("text"), str) else []
    codings = concept.get("coding")
    if isinstance(codings, list):  # a malformed coding is reported where codes are read; text still counts
        out += [c["display"] for c in codings if isinstance(c, dict) and isinstance(c.get("display"), str)]
    return out


def match_coding(system: str, code: str, vs: ValueSet) -> Match | None:
    norm = normalise_code(system, code)
    for excluded in vs.exclude_prefix.get(system, ()):
        if norm.startswith(excluded):
            return None
    exact = vs.exact.get(system)
    if exact is not None and norm in exact:
        return Match(vs.id, "code", f"{system}|{code}", exact[norm])
    for prefix, seventh, weak in vs.prefix.get(system, ()):
        if norm.startswith(prefix):
            if seventh is not None and (len(norm) < 7 or norm[6] not in seventh):
                continue
            return Match(vs.id, "prefix", f"{system}|{code}", weak)
    return None


def match_concept(concept: Any, vs: ValueSet) -> Match | None:
    """First match of a CodeableConcept's codes in one value set (names: see :func:`name_tags`)."""
    for coding in codings_of(concept):
        system, code = coding.get("system"), coding.get("code")
        if isinstance(system, str) and isinstance(code, str):
            found = match_coding(system, code, vs)
            if found:
                return found
    return None


def match_any(concept: Any, value_sets: Iterable[ValueSet]) -> Match | None:
    for vs in value_sets:
        found = match_concept(concept, vs)
        if found:
            return found
    return None


def _excluded(vs: ValueSet, system: str, norm: str) -> bool:
    return any(norm.startswith(e) for e in vs.exclude_prefix.get(system, ()))


_LONGEST_PREFIX: dict[int, tuple[object, int]] = {}


def longest_prefix(prefixes: Mapping[str, object]) -> int:
    """The length of the longest prefix in one system's prefix index (memoised per index object)."""
    known = _LONGEST_PREFIX.get(id(prefixes))
    if known is not None and known[0] is prefixes:
        return known[1]
    longest = max((len(p) for p in prefixes), default=0)
    _LONGEST_PREFIX[id(prefixes)] = (prefixes, longest)
    return longest


class _SystemPrefixes(NamedTuple):
    """One system's prefix index, with the prefix lengths it holds (ascending) and the value sets that
    exclude codes of that system: computed once per criteria."""

    prefixes: Mapping[str, tuple[tuple[str, frozenset[str] | None, bool], ...]]
    lengths: tuple[int, ...]
    excluding: frozenset[str]


#: id(criteria) → (criteria, system → its prefix index or None): see :func:`_system_prefixes`
_PREFIXES: dict[int, tuple[Criteria, dict[str, _SystemPrefixes | None]]] = {}


def _system_prefixes(criteria: Criteria, system: str) -> _SystemPrefixes | None:
    memo = _PREFIXES.get(id(criteria))
    if memo is None or memo[0] is not criteria:
        if len(_PREFIXES) >= 8:
            _PREFIXES.clear()
        memo = _PREFIXES[id(criteria)] = (criteria, {})
    try:
        return memo[1][system]
    except KeyError:
        pass
    prefixes = criteria.vs_prefix.get(system)
    excluding = frozenset(vs.id for vs in criteria.value_sets.values() if vs.exclude_prefix.get(system))
    found = memo[1][system] = (
        _SystemPrefixes(prefixes, tuple(sorted({len(p) for p in prefixes})), excluding) if prefixes else None
    )
    if found is None and excluding:  # exclusions without prefixes: still checked on exact matches
        found = memo[1][system] = _SystemPrefixes({}, (), excluding)
    return found


def concept_tags(concept: Any, criteria: Criteria) -> dict[str, Match]:
    """Every value set a CodeableConcept's codes belong to, by indexed lookup (names are not tried here).

    One pass per resource instead of one per fact and value set: the cost is a few dictionary lookups
    per coding (the exact code, then each prefix of the normalised code whose length some prefix of the
    system has), so it is linear in the code's length, never quadratic.
    """
    tags: dict[str, Match] = {}
    for coding in codings_of(concept):
        system, code = coding.get("system"), coding.get("code")
        if not isinstance(system, str) or not isinstance(code, str):
            continue
        norm = normalise_code(system, code)
        index = _system_prefixes(criteria, system)
        excluding = index.excluding if index is not None else ()
        recorded = f"{system}|{code}"
        for vs_id, weak in criteria.vs_exact.get((system, norm), ()):
            if vs_id not in tags and (
                vs_id not in excluding or not _excluded(criteria.value_sets[vs_id], system, norm)
            ):
                tags[vs_id] = Match(vs_id, "code", recorded, weak)
        if index is None or not index.prefixes:
            continue
        size = len(norm)
        for k in index.lengths:
            if k > size:
                break
            for vs_id, seventh, weak in index.prefixes.get(norm[:k], ()):
                if vs_id in tags or (seventh is not None and (size < 7 or norm[6] not in seventh)):
                    continue
                if vs_id not in excluding or not _excluded(criteria.value_sets[vs_id], system, norm):
                    tags[vs_id] = Match(vs_id, "prefix", recorded, weak)
    return tags


def first_tag(tags: Mapping[str, Match], value_sets: Iterable[ValueSet]) -> Match | None:
    for vs in value_sets:
        if vs.id in tags:
            return tags[vs.id]
    return None


class _NameSearch(NamedTuple):
    """The name patterns as searched: one matching any name (a prefilter, so a text that names nothing, most
    medications, costs one search), and one per value set; each a trie of its names when it can be."""

    anything: re.Pattern[str]
    by_value_set: dict[str, re.Pattern[str]]


#: id(name patterns) → (the patterns, their searches)
_NAME_SEARCH: dict[int, tuple[Mapping[str, re.Pattern[str]], _NameSearch]] = {}

#: the shape the criteria loader gives a value set's name pattern: whole words, an alternation of names
_WORDS_HEAD, _WORDS_TAIL = "(?<![a-z])(?:", ")(?![a-z])"


def _names_of(pattern: str) -> list[str] | None:
    """The names of a whole-word pattern of the loader's shape (``re.escape``d, ``|``-separated), or None
    when the pattern does not read back exactly (then it is searched as it is)."""
    if not (pattern.startswith(_WORDS_HEAD) and pattern.endswith(_WORDS_TAIL)):
        return None
    body = pattern[len(_WORDS_HEAD) : -len(_WORDS_TAIL)]
    names = [re.sub(r"\\(.)", r"\1", n, flags=re.DOTALL) for n in body.split("|")]
    return names if names and "|".join(re.escape(n) for n in names) == body else None


def _trie(names: Iterable[str]) -> str:
    """An alternation of the names factored by common prefix (the same strings; the regex engine then
    rejects a position after a character or two instead of trying every name)."""
    root: dict[str, Any] = {}
    for name in names:
        node = root
        for ch in name:
            node = node.setdefault(ch, {})
        node[""] = {}

    def emit(node: dict[str, Any]) -> str:
        branches = [re.escape(ch) + emit(node[ch]) for ch in sorted(k for k in node if k)]
        if not branches:
            return ""
        if "" in node:
            return "(?:" + "|".join(branches) + ")?"
        return branches[0] if len(branches) == 1 else "(?:" + "|".join(branches) + ")"

    return _WORDS_HEAD + emit(root) + _WORDS_TAIL


def _name_search(patterns: Mapping[str, re.Pattern[str]]) -> _NameSearch:
    memo = _NAME_SEARCH.get(id(patterns))
    if memo is None or memo[0] is not patterns:
        if len(_NAME_SEARCH) >= 8:
            _NAME_SEARCH.clear()
        names = {vs_id: _names_of(p.pattern) for vs_id, p in patterns.items()}
        by_value_set = {
            vs_id: re.compile(_trie(words)) if words else patterns[vs_id] for vs_id, words in names.items()
        }
        if all(words for words in names.values()):
            anything = re.compile(
                _trie({n for words in names.values() for n in words or ()}) if names else "(?!)"
            )
        else:
            anything = re.compile("|".join(f"(?:{p.pattern})" for p in patterns.values()) or "(?!)")
        memo = _NAME_SEARCH[id(patterns)] = (patterns, _NameSearch(anything, by_value_set))
    return memo[1]


def name_tags(concept: Any, criteria: Criteria) -> dict[str, Match]:
    """Value sets whose ingredient names appear (whole word) in the concept's text or displays."""
    texts = list(dict.fromkeys([t.lower() for t in texts_of(concept)]))  # a display often repeats the text
    tags: dict[str, Match] = {}
    if not texts:
        return tags
    search = _name_search(criteria.vs_name_patterns)
    if not any(search.anything.search(text) for text in texts):
        return tags
    for vs_id, pattern in search.by_value_set.items():
        for text in texts:
            if pattern.search(text):
                tags[vs_id] = Match(vs_id, "name", text)
                break
    return tags
