from datetime import date

from flask import Blueprint, Response, abort, render_template, request, url_for
from flask_login import current_user, login_required

from webapp import csvfile
from webapp.analytics import charts, report
from webapp.db import get_session
from webapp.htmx import is_htmx
from webapp.listing import Page, parse_page

bp = Blueprint("analytics", __name__, url_prefix="/analytics")


def _date(value: str | None) -> date | None:
    if not value:
        return None
    try:
        return date.fromisoformat(value)
    except ValueError:
        abort(400)


def _query(args) -> report.Query:
    filters = tuple(
        (key[2:], value) for key, value in sorted(args.items(multi=True)) if key.startswith("f_") and value
    )
    try:
        return report.Query(
            group_by=args.get("group", "domain"),
            filters=filters,
            start=_date(args.get("from")),
            end=_date(args.get("to")),
            business_hours=args.get("bh") == "1",
        )
    except report.ReportError:
        abort(400)


@bp.get("")
@login_required
def index():
    session = get_session()
    query = _query(request.args)
    context = {
        "query": query,
        "dimensions": report.DIMENSIONS,
        "has_facts": report.has_facts(session, current_user.workspace_id),
        "has_salesforce": report.has_salesforce_dimensions(session, current_user.workspace_id),
        "duration": charts.duration,
        "args": request.args.to_dict(),
    }
    if context["has_facts"]:
        result = report.run(session, current_user.workspace_id, query)
        context.update(result=result, volume=charts.volume(result), response=charts.response(result))
    if is_htmx():
        return render_template("partials/analytics/_report.html", **context)
    context["choices"] = report.choices(session, current_user.workspace_id)
    return render_template("analytics/index.html", **context)


@bp.get("/export.csv")
@login_required
def export_csv():
    query = _query(request.args)
    result = report.run(get_session(), current_user.workspace_id, query)
    label = report.DIMENSIONS[query.group_by].label
    unit = "business seconds" if query.business_hours else "seconds"
    header = [label, "Received", "Sent", "Conversations", "Reply rate",
              f"Mean first response ({unit})", f"Median ({unit})", f"90th percentile ({unit})"]
    rows = [
        [
            row.value, row.received, row.sent, row.conversations,
            "" if row.reply_rate is None else f"{row.reply_rate:.4f}",
            *("" if v is None else round(v) for v in (row.mean, row.median, row.p90)),
        ]
        for row in [*result.rows, result.total]
    ]
    return Response(
        csvfile.render([header, *rows]),
        mimetype="text/csv",
        headers={"Content-Disposition": f'attachment; filename="analytics-{query.group_by}.csv"'},
    )


@bp.get("/conversations")
@login_required
def drill_down():
    query = _query(request.args)
    group_value = request.args.get("value")
    measure = request.args.get("measure", "all")
    page = parse_page(request.args.get("page"))
    items, total = report.conversations(get_session(), current_user.workspace_id, query, group_value, measure, page)
    listing = Page(items=items, page=page, per_page=25, total=total)
    back = url_for("analytics.index", **{k: v for k, v in request.args.items() if k not in ("value", "measure", "page")})
    return render_template(
        "analytics/conversations.html", listing=listing, query=query, group_value=group_value,
        measure=measure, back=back, dimension=report.DIMENSIONS[query.group_by],
    )
