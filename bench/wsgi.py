"""The WSGI app the HTTP benchmarks serve: the real service plus a hello-JSON baseline route.

``gunicorn bench.wsgi:app``. The service is built with ``app.create_app`` exactly as ``spine-auc serve``
builds it (configuration from ``SPINE_AUC_*``, so the bench points ``SPINE_AUC_DATA_DIR`` at a temporary
directory and the audit store writes to a temporary SQLite database: that write is part of the cost).
The baseline blueprint lives here, never in ``app/``.
"""

from __future__ import annotations

import gc

from flask import Blueprint, Flask, jsonify
from flask.typing import ResponseReturnValue

from app import create_app
from app.logging_setup import configure_logging
from bench.server import HELLO_PATH

hello = Blueprint("bench_hello", __name__)


@hello.get(HELLO_PATH)
@hello.post(HELLO_PATH)
def hello_json() -> ResponseReturnValue:
    return jsonify({"ok": True})


def build_app() -> Flask:
    configure_logging()  # JSON log lines to stderr, as `spine-auc serve` does
    application = create_app()
    application.register_blueprint(hello)
    gc.collect()
    gc.freeze()  # as `spine-auc serve` does after building the app
    return application


app = build_app()
