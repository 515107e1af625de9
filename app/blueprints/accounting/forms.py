from flask_wtf import FlaskForm
from wtforms import HiddenField, SubmitField

from app.days import DayField, DayRangeForm, QueryForm
from app.i18n import lazy_gettext as _l


class DayForm(QueryForm):
    """My account's day picker."""

    day = DayField(_l("Day"))


class RangeForm(DayRangeForm):
    """The overview's per-day statistics: the last week unless another range is chosen."""

    default_days = 7


class CloseDayForm(FlaskForm):
    """The "Close the day" button; `day` is the day the page showed, so a form posted after
    midnight does not close a day nobody looked at."""

    day = HiddenField()
    submit = SubmitField(_l("Close the day"))


class SendMailForm(FlaskForm):
    submit = SubmitField(_l("Send pending e-mails now"))


class SendAgainForm(FlaskForm):
    """ "Send again" for one failed payout e-mail: only the CSRF token."""
