"""Every module-level logger is named after its module (``app.cds.prefetch`` logs as ``spine_auc.cds.prefetch``),
so a log line says where it came from even after code moves."""

from __future__ import annotations

import importlib
import logging

from conftest import REPO

APP = REPO / "app"


def test_module_loggers_are_named_after_their_modules():
    loggers = {}
    for path in sorted(APP.rglob("*.py")):
        parts = path.relative_to(REPO).with_suffix("").parts
        module = importlib.import_module(".".join(p for p in parts if p != "__init__"))
        for value in vars(module).values():
            if isinstance(value, logging.Logger):
                loggers[module.__name__] = value.name
    assert len(loggers) >= 10
    for module, name in loggers.items():
        assert name == "spine_auc" + module.removeprefix("app"), f"{module} logs as {name}"
