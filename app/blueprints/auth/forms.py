from flask_wtf import FlaskForm
from wtforms import PasswordField, SelectField, StringField, SubmitField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import DataRequired, Length

from app.access import ROLES
from app.i18n import LOCALE_NAMES, LOCALES, lazy_label
from app.i18n import lazy_gettext as _l

ROLE_CHOICES = [SelectChoice(role, lazy_label(role, "role_choice")) for role in ROLES]


class SignInForm(FlaskForm):
    username = StringField(
        _l("Username"),
        validators=[DataRequired(), Length(max=64)],
        render_kw={"autocomplete": "username", "autocapitalize": "none"},
    )
    beak_shape = PasswordField(
        _l("Beak shape"),
        validators=[DataRequired(), Length(max=200)],
        render_kw={"autocomplete": "current-password"},
    )
    submit = SubmitField(_l("Sign in"))


class PopugForm(FlaskForm):
    """Rules live in auth.service; the form only carries the fields and the CSRF token."""

    username = StringField(
        _l("Username"), validators=[DataRequired()], render_kw={"autocomplete": "off"}
    )
    email = StringField(_l("E-mail"), validators=[DataRequired()], render_kw={"type": "email"})
    role = SelectField(_l("Role"), choices=ROLE_CHOICES, default="worker")
    beak_shape = PasswordField(
        _l("Beak shape"), validators=[DataRequired()], render_kw={"autocomplete": "new-password"}
    )
    submit = SubmitField(_l("Create popug"))


class EmailForm(FlaskForm):
    """A popug's new e-mail (rules in auth.service, as for a new popug)."""

    email = StringField(_l("New e-mail"), validators=[DataRequired()], render_kw={"type": "email"})
    submit = SubmitField(_l("Change e-mail"))


class BeakShapeForm(FlaskForm):
    """A popug's new beak shape (rules in auth.service, as for a new popug)."""

    beak_shape = PasswordField(
        _l("New beak shape"),
        validators=[DataRequired()],
        render_kw={"autocomplete": "new-password"},
    )
    submit = SubmitField(_l("Set the new beak shape"))


class RoleForm(FlaskForm):
    role = SelectField(_l("Role"), choices=ROLE_CHOICES)
    submit = SubmitField(_l("Change role"))


class EmptyForm(FlaskForm):
    """A bare button's form: only the CSRF token."""


class LocaleForm(FlaskForm):
    """The top bar's language switch."""

    locale = SelectField(choices=[SelectChoice(code, LOCALE_NAMES[code]) for code in LOCALES])


class TokenForm(FlaskForm):
    """A new API token: its name and how long it lasts (rules in auth.tokens)."""

    name = StringField(_l("Name"), validators=[DataRequired()], render_kw={"autocomplete": "off"})
    days = SelectField(
        _l("Expires after"),
        choices=[
            SelectChoice(30, _l("30 days")),
            SelectChoice(90, _l("90 days")),
            SelectChoice(365, _l("365 days")),
        ],
        coerce=int,
        default=90,
    )
    submit = SubmitField(_l("Create token"))
