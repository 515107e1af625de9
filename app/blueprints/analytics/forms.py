"""The dashboard's date range: `from` and `to` in the URL, the last 30 days by default."""

from app.days import DayField, DayRangeForm
from app.i18n import lazy_gettext as _l


class RangeForm(DayRangeForm):
    start = DayField(_l("From"), name="from")
    end = DayField(_l("To"), name="to")
