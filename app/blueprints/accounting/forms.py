from datetime import date, timedelta

from flask_babel import gettext
from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import HiddenField, SubmitField, ValidationError

from app.days import DayField

MAX_RANGE_DAYS = 366


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
