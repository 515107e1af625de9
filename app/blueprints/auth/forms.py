from flask_wtf import FlaskForm
from wtforms import PasswordField, SelectField, StringField, SubmitField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import DataRequired, Length

from .models import ROLES

ROLE_CHOICES = [SelectChoice(role, role.capitalize()) for role in ROLES]


class SignInForm(FlaskForm):
    username = StringField(
        "Username",
        validators=[DataRequired(), Length(max=64)],
        render_kw={"autocomplete": "username", "autocapitalize": "none"},
    )
    beak_shape = PasswordField(
        "Beak shape",
        validators=[DataRequired(), Length(max=200)],
        render_kw={"autocomplete": "current-password"},
    )
    submit = SubmitField("Sign in")


class PopugForm(FlaskForm):
    """Rules live in auth.service; the form only carries the fields and the CSRF token."""

    username = StringField(
        "Username", validators=[DataRequired()], render_kw={"autocomplete": "off"}
    )
    email = StringField("E-mail", validators=[DataRequired()], render_kw={"type": "email"})
    role = SelectField("Role", choices=ROLE_CHOICES, default="worker")
    beak_shape = PasswordField(
        "Beak shape", validators=[DataRequired()], render_kw={"autocomplete": "new-password"}
    )
    submit = SubmitField("Create popug")


class RoleForm(FlaskForm):
    role = SelectField("Role", choices=ROLE_CHOICES)
    submit = SubmitField("Change role")


class EmptyForm(FlaskForm):
    """A bare button's form: only the CSRF token."""
