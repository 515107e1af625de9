from datetime import timedelta

from flask import current_app, request, url_for
from flask_babel import ngettext

from app import clock
from app.access import ACCESS, role_required
from app.days import MAX_RANGE_DAYS
from app.htmx import render, wants_fragment

from . import bp, report
from .forms import RangeForm

PRESETS = (7, 30, 90, 365)


@bp.get("/analytics")
@role_required(*ACCESS["analytics"])
def dashboard():
    """The admin dashboard. The range form is a GET, so every range is a bookmarkable URL;
    htmx swaps only the range's results (the form included, for its messages)."""
    today = clock.business_day()
    form = RangeForm(request.args)
    valid = form.check(today)
    chosen = (form.start.data, form.end.data) if valid else None
    figures = report.range_report(*chosen) if chosen else None
    context = {
        "form": form,
        "report": figures,
        "presets": [
            (
                ngettext("Last %(num)s days", "Last %(num)s days", days),
                _range_url(today - timedelta(days=days - 1), today),
                chosen == (today - timedelta(days=days - 1), today),
            )
            for days in PRESETS
        ],
        "max_days": MAX_RANGE_DAYS,
        "timezone": current_app.config["ATES_TIMEZONE"],
        "calendar_today": today,
    }
    if not wants_fragment():
        context["today"] = report.today_cards(figures)
    status = 200 if valid else 422
    return render("analytics/dashboard.html", "analytics/_results.html", **context), status


def _range_url(first, last) -> str:
    return url_for("analytics.dashboard", **{"from": first.isoformat(), "to": last.isoformat()})
