"""Days people type into the pages' date pickers: one field, one range form, one range every
page accepts and one message for each mistake (accounting's pages and the analytics
dashboard share them)."""

from datetime import date, datetime, timedelta

from flask_babel import gettext
from flask_wtf import FlaskForm
from wtforms import DateField, ValidationError

from app.i18n import format_day
from app.i18n import lazy_gettext as _l

# Far enough either way for a task tracker, and clear of date arithmetic overflow.
FIRST_DAY = date(2000, 1, 1)
LAST_DAY = date(2099, 12, 31)
ISO_DATE = "%Y-%m-%d"
DATE_HINT = _l("Enter a date like 2026-03-03 (year-month-day).")
# A year, leap day included; longer ranges make tables nobody reads and charts of hairlines.
MAX_RANGE_DAYS = 366


def parse_day(text: str | None) -> date | None:
    """A day written as ISO_DATE (a form's field, a URL's part); None for anything else."""
    try:
        return datetime.strptime((text or "").strip(), ISO_DATE).date()
    except ValueError:
        return None


class DayField(DateField):
    """An ISO date, as the browser's date input sends it. Empty is no day (None); anything
    else that is not a day gets DATE_HINT; a day outside FIRST_DAY..LAST_DAY is refused."""

    def __init__(self, label=None, validators=None, **kwargs):
        super().__init__(label, validators, format=ISO_DATE, **kwargs)

    def process_formdata(self, valuelist):
        text = valuelist[0].strip() if valuelist else ""
        if not text:
            self.data = None
            return
        self.data = parse_day(text)
        if self.data is None:
            raise ValueError(str(DATE_HINT))

    def pre_validate(self, form):
        if self.data is not None and not FIRST_DAY <= self.data <= LAST_DAY:
            raise ValidationError(
                gettext(
                    "Choose a day between %(first)s and %(last)s.",
                    first=format_day(FIRST_DAY),
                    last=format_day(LAST_DAY),
                )
            )


class QueryForm(FlaskForm):
    """A GET form read from the query string: no CSRF token, nothing changes, so a page's
    choice is a URL."""

    class Meta:
        csrf = False


class DayRangeForm(QueryForm):
    """A range of days, both ends included and both optional: a missing end is today, a
    missing start `default_days` before the end. A range must run forwards and span at most
    MAX_RANGE_DAYS; what is wrong is said next to the end ("To")."""

    default_days = 30
    start = DayField(_l("From"))
    end = DayField(_l("To"))

    def check(self, today: date) -> bool:
        """Validate and fill in the defaults; False, with the message on its field, where the
        range cannot be shown."""
        self.validate()
        if self.errors:
            return False
        end = self.end.data or today
        start = self.start.data or end - timedelta(days=self.default_days - 1)
        if start > end:
            self.end.errors = [gettext("The end must not be before the start.")]
            return False
        if (end - start).days + 1 > MAX_RANGE_DAYS:
            self.end.errors = [
                gettext("Choose at most %(num)s days (one year).", num=MAX_RANGE_DAYS)
            ]
            return False
        self.start.data, self.end.data = start, end
        return True

    def default_range(self, today: date) -> tuple[date, date]:
        """The last `default_days` days to today."""
        return today - timedelta(days=self.default_days - 1), today
