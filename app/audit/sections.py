"""The report's sections as HTML, from a :class:`Summary`; each number rendered by the caller's ``link``.

``report.html`` links a number to its ``jq`` filter; the auditor page to the page filtered the same way.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from html import escape

from app.audit.charts import LABEL_ORDER, legend, month_columns, share_bars, stacked_bars
from app.audit.summary import NOT_SPINE, Key, Summary

Link = Callable[[str, Key, int], str]  # (family, key, value) → HTML of the number
TOP_MISSING = 10
TOP_SWAPS = 10
TOP_REQUESTERS = 25


def _pct(part: int, whole: int) -> str:
    return f"{part / whole:.1%}" if whole else "—"


def _by_label(summary: Summary, family: str) -> list[tuple[str, dict[str, int]]]:
    grouped: dict[str, dict[str, int]] = {}
    for (name, lb), n in summary.counts.get(family, {}).items():
        grouped.setdefault(name, {})[lb] = n
    return sorted(grouped.items(), key=lambda kv: (-sum(kv[1].values()), kv[0]))


def _labels(rows: list[tuple[str, dict[str, int]]]) -> list[str]:
    present = {lb for _, parts in rows for lb in parts}
    return sorted(present, key=lambda k: (LABEL_ORDER.index(k) if k in LABEL_ORDER else 99, k))


def _category_table(summary: Summary, family: str, link: Link, heading: str) -> str:
    rows = _by_label(summary, family)
    labels = _labels(rows)
    names = {k: summary.names.get(k, k) for k, _ in rows}
    chart = stacked_bars([(names[k] or "(none)", parts) for k, parts in rows], title=heading)
    head = "".join(f"<th>{escape(lb)}</th>" for lb in labels)
    body = []
    for key, parts in rows:
        cells = "".join(
            f"<td>{link(family, (key, lb), parts[lb]) if lb in parts else ''}</td>" for lb in labels
        )
        body.append(f"<tr><th>{escape(names[key] or '(none)')} <small>{escape(key)}</small></th>{cells}</tr>")
    return (
        f"<h2>{escape(heading)}</h2>{legend(labels)}{chart}"
        f'<table class="counts"><tr><th></th>{head}</tr>{"".join(body)}</table>'
    )


def _adherence(summary: Summary, family: str, link: Link, heading: str, *, limit: int | None = None) -> str:
    counts: Counter[Key] = summary.counts.get(family, Counter())
    names = (
        sorted({k[0] for k in counts}, key=lambda n: n)
        if family == "month"
        else sorted({k[0] for k in counts}, key=lambda n: (-counts[(n, "all")], n))
    )
    if limit is not None:
        names = names[:limit]
    rows = [(n, counts.get((n, "ua"), 0), counts.get((n, "all"), 0)) for n in names]
    chart = (
        month_columns(rows, title=heading)
        if family == "month"
        else share_bars([(n or "(none)", p, w) for n, p, w in rows], title=heading)
    )
    body = "".join(
        f"<tr><th>{escape(n or ('no date' if family == 'month' else '(none)'))}</th>"
        f"<td>{link(family, (n, 'ua'), p)}</td><td>{link(family, (n, 'all'), w)}</td><td>{_pct(p, w)}</td></tr>"
        for n, p, w in rows
    )
    return (
        f'<h2>{escape(heading)}</h2>{chart}<table class="counts"><tr><th></th><th>usually appropriate</th>'
        f"<th>spine imaging orders</th><th>adherence</th></tr>{body}</table>"
    )


def overview(summary: Summary, link: Link) -> str:
    total, spine = summary.get("total", "all"), summary.get("total", "spine")
    insufficient = summary.get("status", "insufficient-data")
    not_spine = summary.get("status", NOT_SPINE)
    statuses = "".join(
        f"<tr><th>{escape(k[0])}</th><td>{link('status', k, n)}</td><td>{_pct(n, total)}</td></tr>"
        for k, n in sorted(summary.counts.get("status", {}).items())
    )
    return (
        '<section id="overview"><h2>Overview</h2><ul class="big">'
        f"<li>{link('total', ('all',), total)} orders evaluated</li>"
        f"<li>{link('total', ('spine',), spine)} spine imaging orders</li>"
        f"<li>{link('status', (NOT_SPINE,), not_spine)} orders not spine imaging (status {NOT_SPINE})</li>"
        f"<li>insufficient data: {link('status', ('insufficient-data',), insufficient)} of "
        f"{link('total', ('spine',), spine)} spine imaging orders ({_pct(insufficient, spine)})</li></ul>"
        f'<table class="counts"><tr><th>status</th><th>orders</th><th>share</th></tr>{statuses}</table></section>'
    )


def missing_facts(summary: Summary, link: Link) -> str:
    spine = summary.get("total", "spine")
    top = sorted(summary.counts.get("missing", {}).items(), key=lambda kv: (-kv[1], kv[0]))[:TOP_MISSING]
    chart = share_bars([(k[0], n, spine) for k, n in top], title="facts most often missing")
    body = "".join(
        f"<tr><th>{escape(k[0])}</th><td>{link('missing', k, n)}</td><td>{_pct(n, spine)}</td></tr>"
        for k, n in top
    )
    return (
        '<section id="missing"><h2>Insufficient data: the facts most often missing</h2>'
        f"<p>Orders whose result asks for a fact (<code>missing[]</code>), out of {spine} spine imaging orders.</p>"
        f'{chart}<table class="counts"><tr><th>fact</th><th>orders</th><th>share</th></tr>{body}</table></section>'
    )


def mr_safety(summary: Summary, link: Link) -> str:
    rows = sorted(summary.counts.get("mr", {}).items(), key=lambda kv: (-kv[1], kv[0]))
    body = "".join(f"<tr><th>{escape(k[0])}</th><td>{link('mr', k, n)}</td></tr>" for k, n in rows)
    body = body or '<tr><td colspan="2">no MR-safety findings</td></tr>'
    return (
        '<section id="mr-safety"><h2>MR-safety hits</h2><p>Orders with a <code>safety[]</code> entry of check '
        f'<code>mr-safety</code>, by its status.</p><table class="counts"><tr><th>status</th><th>orders</th></tr>{body}'
        "</table></section>"
    )


def swaps(summary: Summary, link: Link) -> str:
    top = sorted(summary.counts.get("swap", {}).items(), key=lambda kv: (-kv[1], kv[0]))[:TOP_SWAPS]
    body = "".join(
        f"<tr><td>{escape(summary.names.get(a, a))}</td><td>→ {escape(summary.names.get(b, b))}</td>"
        f"<td>{link('swap', (a, b), n)}</td></tr>"
        for (a, b), n in top
    )
    body = body or '<tr><td colspan="3">no better choice proposed</td></tr>'
    return (
        '<section id="swaps"><h2>The ten most frequent "better choice" swaps</h2><p>The ordered study and the '
        'first alternative its result proposes.</p><table class="counts"><tr><th>ordered</th><th>better choice'
        f"</th><th>orders</th></tr>{body}</table></section>"
    )


def all_sections(summary: Summary, link: Link) -> str:
    return "".join(
        [
            overview(summary, link),
            f'<section id="by-topic">{_category_table(summary, "topic", link, "Categories by topic")}</section>',
            f'<section id="by-procedure">{_category_table(summary, "procedure", link, "Categories by procedure")}</section>',
            f'<section id="by-month">{_adherence(summary, "month", link, "Adherence by month (share rated usually appropriate)")}</section>',
            f'<section id="by-requester">{_adherence(summary, "requester", link, "Adherence by requester", limit=TOP_REQUESTERS)}</section>',
            missing_facts(summary, link),
            mr_safety(summary, link),
            swaps(summary, link),
        ]
    )


STYLE = """
body{font-family:system-ui,-apple-system,Segoe UI,Roboto,sans-serif;margin:1.5rem auto;max-width:1100px;color:#1c2833;padding:0 1rem}
h1{font-size:1.5rem}h2{font-size:1.15rem;margin-top:2rem;border-bottom:1px solid #cfd8dc;padding-bottom:.2rem}
table.counts{border-collapse:collapse;margin:.5rem 0;font-size:.85rem}
table.counts th,table.counts td{border:1px solid #e0e0e0;padding:.2rem .5rem;text-align:right}
table.counts th:first-child{text-align:left;font-weight:600}
small{color:#607d8b;font-weight:normal}a.n{color:#0d47a1;text-decoration:none;border-bottom:1px dotted #0d47a1}
ul.big li{font-size:1.05rem;margin:.2rem 0}.legend{font-size:.8rem;margin:.3rem 0}.key{margin-right:1rem}
code{background:#f5f5f5;padding:0 .2rem}.filters code{font-size:.8rem;word-break:break-all}
.note{background:#f1f8e9;border-left:4px solid #7cb342;padding:.5rem 1rem;font-size:.9rem}
svg.chart{display:block;margin:.5rem 0;max-width:100%}
"""
