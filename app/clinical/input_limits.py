"""Bounded input: codes and texts longer than a limit are cut before anything matches them (pure).

A code longer than ``max_code_length`` cannot be a code of any value set, so it is removed from its
coding (the coding stays, unmatched); a ``text``/``display`` longer than ``max_text_length`` is cut to
that length. Each cut is reported as a data issue, never as an error. The walk is iterative (no
recursion limit) and linear in the size of the JSON.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

TEXT_KEYS = frozenset({"text", "display"})


@dataclass(frozen=True)
class InputLimits:
    """The limits (settings ``MAX_CODE_LENGTH`` and ``MAX_TEXT_LENGTH``)."""

    max_code_length: int = 100
    max_text_length: int = 4096


def clip_codes_and_texts(value: Any, limits: InputLimits) -> list[str]:
    """Cut over-long ``code`` and ``text``/``display`` strings inside ``value`` in place; returns the notes."""
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
