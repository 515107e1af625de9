"""The dashboard's date range: a GET form (no CSRF: it changes nothing), so a range is a URL."""

from datetime import date, timedelta

from flask_babel import gettext
from flask_babel import lazy_gettext as _l
from wtforms import Form

from app.days import DayField

DEFAULT_DAYS = 30
# A year, leap day included; longer ranges make tables nobody reads and charts of hairlines.
MAX_DAYS = 366


class RangeForm(Form):
    """`from` and `to`, both optional: missing ends default to the last 30 days to today."""

    start = DayField(_l("From"), name="from")
    end = DayField(_l("To"), name="to")

    def check(self, today: date) -> bool:
        """Validate, fill in the defaults, and put any message next to its field."""
        self.validate()  # each end on its own; the rules below need both
        if self.start.errors or self.end.errors:
            return False
        end = self.end.data or today
        start = self.start.data or end - timedelta(days=DEFAULT_DAYS - 1)
        if start > end:
            self.start.errors = [gettext("The start must be on or before the end.")]
            return False
        if (end - start).days + 1 > MAX_DAYS:
            self.start.errors = [gettext("Choose at most %(num)s days (one year).", num=MAX_DAYS)]
            return False
        self.start.data, self.end.data = start, end
        return True

    @property
    def first(self) -> date:
        return self.start.data

    @property
    def last(self) -> date:
        return self.end.data
