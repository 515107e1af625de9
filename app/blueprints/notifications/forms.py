from flask_babel import LazyString
from flask_wtf import FlaskForm
from wtforms import RadioField, SubmitField
from wtforms.fields.choices import SelectChoice

from app.i18n import label
from app.i18n import lazy_gettext as _l

from .models import EMAIL_CHOICES


class EmailChoiceForm(FlaskForm):
    """Rules live in notifications.service; the form carries the choice and the CSRF token."""

    choice = RadioField(
        _l("E-mail me"),
        choices=[SelectChoice(c.value, LazyString(label, c.value, "email")) for c in EMAIL_CHOICES],
        validate_choice=False,  # the service refuses what is not a choice, in words
    )
    submit = SubmitField(_l("Save"))
