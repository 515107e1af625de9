"""Days people type into the pages' date pickers: one field, one range every page accepts,
one message for each mistake (accounting's pages and the analytics dashboard share them)."""

from datetime import date, datetime

from flask_babel import gettext
from flask_babel import lazy_gettext as _l
from wtforms import DateField, ValidationError

from app.i18n import format_day

# Far enough either way for a task tracker, and clear of date arithmetic overflow.
FIRST_DAY = date(2000, 1, 1)
LAST_DAY = date(2099, 12, 31)
ISO_DATE = "%Y-%m-%d"
DATE_HINT = _l("Enter a date like 2026-03-03 (year-month-day).")


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
        try:
            self.data = datetime.strptime(text, ISO_DATE).date()
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
