"""``OrjsonProvider`` responses mean the same JSON as Flask's default provider wrote."""

from __future__ import annotations

import dataclasses
import json
import uuid
from datetime import UTC, date, datetime
from enum import StrEnum
from typing import Any

import pytest
from flask import Flask, jsonify

from app.web.json_provider import OrjsonProvider


class Colour(StrEnum):
    RED = "red"


@dataclasses.dataclass
class Point:
    x: int
    when: date


def _pair() -> tuple[Flask, Flask]:
    fast, plain = Flask("fast"), Flask("plain")
    fast.json = OrjsonProvider(fast)
    return fast, plain


@pytest.mark.parametrize(
    "value",
    [
        {"b": 1, "a": [1, 2.5, None, True], "é": "ünïcode ☃"},
        {"enum": Colour.RED, "uuid": uuid.UUID(int=7), "day": date(2026, 12, 1)},
        {"at": datetime(2026, 12, 1, 10, 30, tzinfo=UTC), "point": Point(3, date(2026, 1, 2))},
        {"lone": "\ud800 surrogate"},  # orjson refuses it: the default provider writes it
        {"big": 2**70, "nested": {"z": {"y": [{}]}}},
        [1, "two"],
    ],
)
def test_same_json_as_the_default_provider(value: Any) -> None:
    fast, plain = _pair()
    with fast.app_context():
        ours = jsonify(value)
    with plain.app_context():
        theirs = jsonify(value)
    assert ours.mimetype == theirs.mimetype == "application/json"
    assert json.loads(ours.get_data()) == json.loads(theirs.get_data())
    assert ours.get_data().endswith(b"\n")


def test_keys_are_sorted_and_output_compact() -> None:
    fast, _ = _pair()
    with fast.app_context():
        body = jsonify({"b": 1, "a": {"d": 2, "c": 3}}).get_data()
    assert body == b'{"a":{"c":3,"d":2},"b":1}\n'


def test_debug_output_stays_indented() -> None:
    fast, _ = _pair()
    fast.debug = True
    with fast.app_context():
        body = jsonify({"a": 1}).get_data(as_text=True)
    assert body == '{\n  "a": 1\n}\n'
