"""Bounded input: codes and texts longer than a limit are cut before anything matches them (pure).

A code longer than ``max_code_length`` cannot be a code of any value set, so it is removed from its
coding (the coding stays, unmatched); a ``text``/``display`` longer than ``max_text_length`` is cut to
that length. Each cut is reported as a data issue, never as an error. The walk is iterative (no
recursion limit) and linear in the size of the JSON.

Almost every request has nothing to cut: a caller holding the value's compact JSON encoding proves that
at C speed with :func:`within_limits` (a ``"code":"`` / ``"text":"`` / ``"display":"`` string whose encoded
form is longer than its limit; an encoded string is never shorter than the string) and walks only when it
says "maybe", so the outcome is the walk's in every case.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

TEXT_KEYS = frozenset({"text", "display"})


@dataclass(frozen=True)
class InputLimits:
    """The limits (settings ``MAX_CODE_LENGTH`` and ``MAX_TEXT_LENGTH``)."""

    max_code_length: int = 100
    max_text_length: int = 4096


def clip_codes_and_texts(value: Any, limits: InputLimits) -> list[str]:
    """Cut over-long ``code`` and ``text``/``display`` strings inside ``value`` in place; returns the notes."""
    long_codes, long_texts = _clip(value, limits)
    notes = []
    if long_codes:
        notes.append(
            f"{long_codes} code(s) longer than {limits.max_code_length} characters (MAX_CODE_LENGTH) "
            "were not matched against any value set"
        )
    if long_texts:
        notes.append(
            f"{long_texts} text(s) longer than {limits.max_text_length} characters (MAX_TEXT_LENGTH) "
            "were cut to that length before matching"
        )
    return notes


def within_limits(encoded: bytes, limits: InputLimits) -> bool:
    """True only when no ``code`` or ``text``/``display`` string can exceed its limit in the value whose
    compact JSON encoding (no spaces, UTF-8, as ``orjson.dumps`` writes it) is ``encoded``.

    False means "maybe": the caller then walks the value. A string's content runs to the first ``"`` byte
    not escaped, and each character takes at least one byte. The first search (one pass) proves it for
    strings without a backslash; only a string with one (an escape) needs the second, which reads an escape
    as one unit.
    """
    if limits.max_code_length < 0 or limits.max_text_length < 0:
        return False
    quick, exact = _patterns(limits.max_code_length, limits.max_text_length)
    return quick.search(encoded) is None or exact.search(encoded) is None


@lru_cache(maxsize=8)
def _patterns(max_code: int, max_text: int) -> tuple[re.Pattern[bytes], re.Pattern[bytes]]:
    """The searches, both led by the literal ``":"`` (the regex engine scans for it at C speed).

    ``quick``: the value of a ``code``/``text``/``display`` key that is longer than its limit or holds a
    backslash before its end (possessive: no backtracking). ``exact``: longer than its limit, an escape
    counted as one unit.
    """
    code, text = rb'(?<="code":")', rb'(?:(?<="text":")|(?<="display":"))'
    quick = rb'":"(?:%s[^"\\]{0,%d}+[^"]|%s[^"\\]{0,%d}+[^"])' % (code, max_code, text, max_text)
    unit = rb'(?:[^"\\]|\\.)'
    exact = rb'":"(?:%s%s{%d}|%s%s{%d})' % (code, unit, max_code + 1, text, unit, max_text + 1)
    return re.compile(quick), re.compile(exact, re.DOTALL)


def _clip(value: Any, limits: InputLimits) -> tuple[int, int]:
    """The walk: cut in place; the counts of codes removed and texts cut."""
    long_codes = long_texts = 0
    stack: list[Any] = [value]
    while stack:
        node = stack.pop()
        if isinstance(node, dict):
            code = node.get("code")
            if isinstance(code, str) and len(code) > limits.max_code_length:
                del node["code"]
                long_codes += 1
            for key in TEXT_KEYS:
                text = node.get(key)
                if isinstance(text, str) and len(text) > limits.max_text_length:
                    node[key] = text[: limits.max_text_length]
                    long_texts += 1
            stack.extend(v for v in node.values() if isinstance(v, dict | list))
        elif isinstance(node, list):
            stack.extend(v for v in node if isinstance(v, dict | list))
    return long_codes, long_texts
