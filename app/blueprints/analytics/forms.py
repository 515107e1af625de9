"""The dashboard's date range: a GET form (no CSRF: it changes nothing), so a range is a URL."""

from datetime import date, datetime, timedelta

from flask_babel import gettext
from flask_babel import lazy_gettext as _l
from wtforms import Form
from wtforms.fields import DateField

from app.i18n import format_day

DEFAULT_DAYS = 30
# A year, leap day included; longer ranges make tables nobody reads and charts of hairlines.
MAX_DAYS = 366
EARLIEST = date(2000, 1, 1)
LATEST = date(2099, 12, 31)
DATE_FORMAT = "%Y-%m-%d"


class DayField(DateField):
    """An <input type="date"> whose bad input gets a message that says what to type."""

    def process_formdata(self, valuelist):
        if not valuelist or not valuelist[0].strip():
            self.data = None
            return
        try:
            self.data = datetime.strptime(valuelist[0].strip(), DATE_FORMAT).date()
        except ValueError:
            self.data = None
            raise ValueError(gettext("Enter a date like 2026-03-03 (year-month-day).")) from None


class RangeForm(Form):
    """`from` and `to`, both optional: missing ends default to the last 30 days to today."""

    start = DayField(_l("From"), name="from", format=DATE_FORMAT)
    end = DayField(_l("To"), name="to", format=DATE_FORMAT)

    def check(self, today: date) -> bool:
        """Validate, fill in the defaults, and put any message next to its field."""
        self.validate()  # only parses; the rules below need both ends
        if self.start.errors or self.end.errors:
            return False
        end = self.end.data or today
        start = self.start.data or end - timedelta(days=DEFAULT_DAYS - 1)
        for field, day in ((self.start, start), (self.end, end)):
            if not EARLIEST <= day <= LATEST:
                field.errors = [
                    gettext(
                        "Choose a day between %(first)s and %(last)s.",
                        first=format_day(EARLIEST),
                        last=format_day(LATEST),
                    )
                ]
        if self.start.errors or self.end.errors:
            return False
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
