"""The auditor page ``/audit``: the audit report's charts over the consultations store (live CDS and API
traffic), with filters (date range, topic, category, requester) and the CDS feedback (overrides, reasons).

Access: :mod:`app.security.auditor_auth` (an auditor bearer token or the session its login form sets, or
an API client token with scope ``system/spine-auc.audit.read``, limited to its tenant; with neither
configured, loopback only). The "requester" the store knows is the calling system (the CDS
client's or API caller's issuer); "direct" when the call carried none.
"""

from __future__ import annotations

import json
from collections import Counter
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from urllib.parse import urlencode

from flask import Blueprint, Response, current_app, g, make_response, redirect, render_template, request
from flask.typing import ResponseReturnValue
from markupsafe import Markup, escape

from app.audit.sections import STYLE, all_sections
from app.audit.summary import Key, Summary, keys_of, label
from app.errors import NotFound, Unauthorized
from app.security.api_auth import ApiAuthenticator
from app.security.auditor_auth import (
    COOKIE,
    SCOPE_AUDIT_READ,
    configured_digests,
    credentials_configured,
    is_auditor,
    page_enabled,
    session_cookie,
    token_matches,
)
from app.store.audit_reads import MAX_ROWS, consultations_between, feedback_between
from app.store.consultations import ConsultationStore

bp = Blueprint("audit_page", __name__, url_prefix="/audit", template_folder="templates")
FILTERS = ("from", "to", "topic", "category", "requester")
DIRECT = "direct"
LISTED_OVERRIDES = 20


def _store() -> ConsultationStore:
    store: ConsultationStore = current_app.extensions["spine_auc.store"]
    return store


def _api_auth() -> ApiAuthenticator | None:
    auth: ApiAuthenticator | None = current_app.extensions.get("spine_auc.api_auth")
    return auth


def _api_client_tenant(authorization: str | None) -> str | None:
    """The tenant of an API client token holding the audit scope, or ``None`` (no such token)."""
    auth = _api_auth()
    if auth is None or not auth.issuers or not authorization or authorization.count(".") != 2:
        return None  # an auditor token is not a JWT: it is never sent to the JWT verifier
    base = current_app.config.get("PUBLIC_BASE_URL")
    audience = str(base).rstrip("/") if base else request.host_url.rstrip("/")
    try:
        client = auth.verify(authorization, audience=audience)
    except Unauthorized:
        return None
    return client.tenant if SCOPE_AUDIT_READ in client.scopes else None


@bp.before_request
def _guard() -> ResponseReturnValue | None:
    config = current_app.config
    auth = _api_auth()
    issuers = bool(auth is not None and auth.issuers)
    if not page_enabled(config, request.remote_addr, api_issuers=issuers):
        raise NotFound("the auditor page is off: configure SPINE_AUC_AUDITOR_TOKENS")
    g.audit_tenant = None
    if request.endpoint == "audit_page.login" or not credentials_configured(config, issuers):
        return None
    authorization = request.headers.get("Authorization")
    if is_auditor(config, authorization, request.cookies.get(COOKIE)):
        return None
    tenant = _api_client_tenant(authorization)
    if tenant is not None:
        g.audit_tenant = tenant
        return None
    return make_response(render_template("audit/login.html", style=Markup(STYLE), failed=False), 401)


@bp.post("/login")
def login() -> ResponseReturnValue:
    digests = configured_digests(current_app.config)
    token = request.form.get("token", "")
    found = token_matches(token, digests) if digests and token else None
    if found is None:
        return make_response(render_template("audit/login.html", style=Markup(STYLE), failed=True), 401)
    response = redirect("/audit", code=303)
    response.set_cookie(
        COOKIE,
        session_cookie(found),
        max_age=int(current_app.config.get("AUDITOR_SESSION_SECONDS") or 0) or None,
        httponly=True,
        secure=request.is_secure,
        samesite="Strict",
        path="/audit",
    )
    return response


def _date(name: str) -> date | None:
    raw = request.args.get(name, "").strip()
    if not raw:
        return None
    try:
        return date.fromisoformat(raw)
    except ValueError:
        return None


def _filters() -> dict[str, str]:
    return {k: request.args.get(k, "").strip() for k in FILTERS if request.args.get(k, "").strip()}


def _rows() -> tuple[list[dict[str, Any]], dict[str, set[str]], int]:
    """Audit rows (result + recorded date + requester) passing the filters; the choices; rows read."""
    start, end = _date("from"), _date("to")
    since = datetime.combine(start, time(), UTC) if start else None
    until = datetime.combine(end + timedelta(days=1), time(), UTC) if end else None
    read = consultations_between(_store(), since, until, tenant=g.get("audit_tenant"))
    wanted = _filters()
    rows: list[dict[str, Any]] = []
    choices: dict[str, set[str]] = {"topic": set(), "category": set(), "requester": set()}
    for item in read:
        row = dict(item["result"])
        row["authoredOn"] = item["recordedAt"].date().isoformat() if item["recordedAt"] else None
        row["requester"] = item["callerIss"] or DIRECT
        topic = (row.get("topic") or {}).get("id") or ""
        choices["topic"].add(topic)
        choices["category"].add(label(row))
        choices["requester"].add(row["requester"])
        if wanted.get("topic") and topic != wanted["topic"]:
            continue
        if wanted.get("category") and label(row) != wanted["category"]:
            continue
        if wanted.get("requester") and row["requester"] != wanted["requester"]:
            continue
        rows.append(row)
    return rows, choices, len(read)


def _link(family: str, key: Key, value: int) -> str:
    query = urlencode({**_filters(), "family": family, "key": json.dumps(list(key))})
    return f'<a class="n" href="/audit/orders?{escape(query)}">{value}</a>'


def _feedback(rows: list[dict[str, Any]]) -> dict[str, Any]:
    start, end = _date("from"), _date("to")
    since = datetime.combine(start, time(), UTC) if start else None
    until = datetime.combine(end + timedelta(days=1), time(), UTC) if end else None
    items = feedback_between(_store(), since, until)
    by_card = {(r.get("cdsCard") or {}).get("uuid"): r for r in rows if r.get("cdsCard")}
    if g.get("audit_tenant") is not None:  # an API client sees the feedback on its own tenant's cards
        items = [i for i in items if i["card"] in by_card]
    outcomes = Counter(i["outcome"] for i in items)
    reasons: Counter[str] = Counter()
    overrides: list[dict[str, str]] = []
    for item in items:
        if item["outcome"] != "overridden":
            continue
        reason = item["overrideReason"] or {}
        coding = reason.get("reason") or {}
        text = coding.get("display") or coding.get("code") or "(no reason given)"
        reasons[text] += 1
        if len(overrides) < LISTED_OVERRIDES:
            result = by_card.get(item["card"]) or {}
            overrides.append(
                {
                    "at": item["receivedAt"].strftime("%Y-%m-%d %H:%M") if item["receivedAt"] else "",
                    "reason": text,
                    "comment": reason.get("userComment") or "",
                    "order": (result.get("procedure") or {}).get("display") or item["card"],
                    "category": label(result) if result else "",
                }
            )
    return {"outcomes": sorted(outcomes.items()), "reasons": reasons.most_common(), "overrides": overrides}


@bp.get("")
def page() -> ResponseReturnValue:
    rows, choices, read = _rows()
    summary = Summary()
    for row in rows:
        summary.add(row)
    return render_template(
        "audit/page.html",
        style=Markup(STYLE),
        sections=Markup(all_sections(summary, _link)),
        filters=_filters(),
        choices={k: sorted(v) for k, v in choices.items()},
        names=summary.names,
        feedback=_feedback(rows),
        shown=len(rows),
        read=read,
        capped=read >= MAX_ROWS,
    )


@bp.get("/orders")
def orders() -> ResponseReturnValue:
    """The consultations one number of the page counts."""
    family = request.args.get("family", "")
    try:
        key = tuple(json.loads(request.args.get("key", "[]")))
    except (ValueError, TypeError):
        key = ()
    rows, _choices, _read = _rows()
    matching = [r for r in rows if key in keys_of(r).get(family, [])]
    return render_template(
        "audit/orders.html",
        style=Markup(STYLE),
        family=family,
        key=" / ".join(str(k) for k in key),
        rows=matching,
        back="/audit?" + urlencode(_filters()),
    )


def _no_store(response: Response) -> Response:
    response.headers["Cache-Control"] = "no-store"
    response.headers["Content-Security-Policy"] = (
        "default-src 'none'; style-src 'unsafe-inline'; img-src 'self' data:; form-action 'self'"
    )
    return response


bp.after_request(_no_store)
