"""spine-auc: imaging-appropriateness service for spine imaging orders."""

from __future__ import annotations

from typing import Any

from flask import Flask

from app.config import load_config

__version__ = "0.1.0"


def create_app(test_config: dict[str, Any] | None = None) -> Flask:
    """Application factory: configuration, criteria (validated once), storage, blueprints, error handlers."""
    from app.criteria.loader import load_criteria
    from app.web import handlers as web_errors

    app = Flask(__name__)
    from app.web.json_provider import OrjsonProvider

    app.json = OrjsonProvider(app)
    app.config.update(load_config(test_config))
    # Criteria are loaded and validated here, never at import time; invalid criteria stop the start-up.
    app.extensions["spine_auc.criteria"] = load_criteria(app.config["CRITERIA_DIR"])

    web_errors.register(app)
    from app.web import metrics as web_metrics

    web_metrics.register(app)
    from app.web import request_limits

    request_limits.register(app)

    # Audit store (SQLite WAL under DATA_DIR by default, PostgreSQL by URL) and the CDS client authenticator.
    from app.security.cds_auth import authenticator_from_config
    from app.store.consultations import ConsultationStore
    from app.store.sqlite_files import private_data_dir

    private_data_dir(app.config["DATA_DIR"])
    store = ConsultationStore.from_url(app.config["DATABASE_URL"])
    app.extensions["spine_auc.store"] = store
    app.extensions["spine_auc.cds_auth"] = authenticator_from_config(app.config, store)
    # API clients (REST API, $appropriateness, consultation reads) and no token ever in a query string.
    from app.security.api_auth import api_authenticator_from_config
    from app.web.access import refuse_query_tokens

    app.extensions["spine_auc.api_auth"] = api_authenticator_from_config(app.config)
    app.before_request(refuse_query_tokens)
    from app.web.consultations import bp as consultations_bp

    app.register_blueprint(consultations_bp)

    from app.web.health import bp as health_bp

    app.register_blueprint(health_bp)
    from app.web.api import bp as api_bp

    app.register_blueprint(api_bp)
    from app.cds.service import bp as cds_hooks_bp

    app.register_blueprint(cds_hooks_bp)

    # The question page (insufficient-data cards link to it): signed links, answers kept in the store.
    from app.security.links import secret_from_config
    from app.store.questions import QuestionStore
    from app.web.pages.questions import bp as questions_bp

    app.extensions["spine_auc.questions"] = QuestionStore(store.engine)
    app.extensions["spine_auc.link_secret"] = secret_from_config(app.config)
    app.register_blueprint(questions_bp)

    from app.web.pages.audit import bp as audit_page_bp

    app.register_blueprint(audit_page_bp)
    # Blueprints of the API, the FHIR operation and CDS Hooks are registered below.
    return app
