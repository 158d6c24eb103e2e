"""Flask's JSON provider with ``orjson`` responses: the same JSON as Flask's default provider, made faster.

Only ``response`` (``jsonify``, a returned dict) changes; ``dumps``/``loads`` (templates' ``tojson``) stay
Flask's. Same output rules as ``flask.json.provider.DefaultJSONProvider`` (keys sorted, compact unless debugging), and
the same conversions for what JSON lacks: dates, datetimes, dataclasses, UUIDs and ``__html__`` objects go to
Flask's own ``default``. Where ``orjson`` cannot write a value (a lone surrogate in a string, an integer beyond
64 bits, a key that is not a string), the default provider writes it, so nothing that worked before fails now.
Parsing request bodies is ``app.web.body``'s job (it has its own fast path); ``loads`` here keeps Flask's.
"""

from __future__ import annotations

from typing import Any, cast

import orjson
from flask import Response
from flask.json.provider import DefaultJSONProvider

_OPTIONS = orjson.OPT_SORT_KEYS | orjson.OPT_PASSTHROUGH_DATETIME | orjson.OPT_PASSTHROUGH_DATACLASS


class OrjsonProvider(DefaultJSONProvider):
    """``app.json = OrjsonProvider(app)``: responses serialised by orjson, with Flask's fallbacks.

    One difference in bytes, none in meaning: non-ASCII characters are written as UTF-8, not ``\\u`` escapes."""

    def response(self, *args: Any, **kwargs: Any) -> Any:
        obj = self._prepare_response_obj(args, kwargs)
        if self._pretty():
            return super().response(*args, **kwargs)
        response_class = cast(type[Response], self._app.response_class)  # Flask's, not the sansio base's
        return response_class(self._fast(obj) + b"\n", mimetype=self.mimetype)

    def _pretty(self) -> bool:
        debug = self._app.debug if self.compact is None else not self.compact
        return bool(debug)

    def _fast(self, obj: Any) -> bytes:
        try:
            return orjson.dumps(obj, default=self.default, option=_OPTIONS)
        except (TypeError, orjson.JSONEncodeError):
            return super().dumps(obj, separators=(",", ":")).encode("utf-8")
