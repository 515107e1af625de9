import secrets

from flask_wtf import FlaskForm
from wtforms import HiddenField, StringField, SubmitField, TextAreaField

from app.i18n import lazy_gettext as _l


def new_form_token() -> str:
    return secrets.token_urlsafe(24)


class TaskForm(FlaskForm):
    """Rules live in tasks.service; `form_token` makes a resubmitted form a no-op."""

    title = StringField(_l("Title"))
    jira_id = StringField(_l("Jira ID"))
    description = TextAreaField(_l("Description"))
    form_token = HiddenField(default=new_form_token)
    submit = SubmitField(_l("Create task"))


class TaskEditForm(FlaskForm):
    """A creator's edit of a task's texts; the rules are create's (tasks.service)."""

    title = StringField(_l("Title"))
    jira_id = StringField(_l("Jira ID"))
    description = TextAreaField(_l("Description"))
    submit = SubmitField(_l("Save changes"))


class ShuffleForm(FlaskForm):
    form_token = HiddenField(default=new_form_token)
    submit = SubmitField(_l("Shuffle open tasks"))


class CompleteForm(FlaskForm):
    """The "Mark done" button: only the CSRF token."""
