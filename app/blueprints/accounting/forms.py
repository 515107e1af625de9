from datetime import date, timedelta

from flask_babel import gettext
from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import DateField, HiddenField, SubmitField, ValidationError

from app.i18n import format_day

# Days the pages accept; far enough either way, and clear of date arithmetic overflow.
FIRST_DAY = date(2000, 1, 1)
LAST_DAY = date(2999, 12, 31)
MAX_RANGE_DAYS = 366
DATE_HINT = _l("Enter a date as YYYY-MM-DD.")


class DayField(DateField):
    """An ISO date (the browser's date input) with a clear message for anything else."""

    def __init__(self, label=None, validators=None, **kwargs):
        super().__init__(label, validators, format="%Y-%m-%d", **kwargs)

    def process_formdata(self, valuelist):
        try:
            super().process_formdata(valuelist)
        except ValueError:
            self.data = None
            raise ValueError(str(DATE_HINT)) from None

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
    """A GET form read from the query string: no CSRF token, nothing changes."""

    class Meta:
        csrf = False


class DayForm(QueryForm):
    """My account's day picker."""

    day = DayField(_l("Day"))


class RangeForm(QueryForm):
    """The overview's per-day statistics range (both ends included)."""

    start = DayField(_l("From"))
    end = DayField(_l("To"))

    def validate_end(self, field):
        start, end = self.start.data, field.data
        if start is None or end is None:
            return
        if end < start:
            raise ValidationError(gettext("The end must not be before the start."))
        if (end - start).days + 1 > MAX_RANGE_DAYS:
            raise ValidationError(gettext("Choose at most %(num)s days.", num=MAX_RANGE_DAYS))

    def days(self, today: date, default_days: int = 7) -> tuple[date, date]:
        """The chosen range, or the default (the last `default_days` days) where a side is
        missing or invalid."""
        if self.errors:
            return today - timedelta(days=default_days - 1), today
        end = self.end.data or today
        start = self.start.data or min(end, today) - timedelta(days=default_days - 1)
        start = min(max(start, end - timedelta(days=MAX_RANGE_DAYS - 1)), end)
        return start, end


class CloseDayForm(FlaskForm):
    """The "Close the day" button; `day` is the day the page showed, so a form posted after
    midnight does not close a day nobody looked at."""

    day = HiddenField()
    submit = SubmitField(_l("Close the day"))


class SendMailForm(FlaskForm):
    submit = SubmitField(_l("Send pending e-mails now"))
