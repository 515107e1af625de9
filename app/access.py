"""Who may use which part of aTES: the roles of each area, the decorator
routes use, and `can()` for templates. App-level, like clock and money: every blueprint's routes
use it, and it imports none of them."""

from functools import wraps

from flask import request
from flask_login import current_user, login_required
from werkzeug.exceptions import Forbidden

from app.i18n import N_


def role_required(*roles: str):
    """Signed in (else the sign-in page) and one of `roles` (else 403)."""

    def decorator(view):
        @wraps(view)
        @login_required
        def wrapped(*args, **kwargs):
            if current_user.role not in roles:
                raise Forbidden(description=refusal(roles))
            return view(*args, **kwargs)

        return wrapped

    return decorator


# Every role a popug can have (the values of `popugs.role`).
ROLES = ("admin", "manager", "accountant", "worker")
# Tasks land only on these roles: managers and admins never hold tasks.
ASSIGNABLE_ROLES = ("worker", "accountant")

# Who may use which part of aTES; navigation, routes and services all read this.
ACCESS = {
    "tasks": ROLES,
    "my_tasks": ASSIGNABLE_ROLES,
    "my_account": ("admin", "manager", "accountant", "worker"),
    "shuffle": ("admin", "manager"),
    "accounting": ("admin", "accountant"),
    "analytics": ("admin",),
    "popugs": ("admin",),
    "notifications": ("admin", "manager", "accountant", "worker"),
}


# What each area is for and who may use it: the 403 page says so, in the reader's language.
PURPOSES = {
    "my_tasks": N_(
        "My tasks lists the tasks assigned to you. Tasks are assigned to workers and "
        "accountants only."
    ),
    "shuffle": N_("Shuffling reassigns every open task. Managers and admins may shuffle."),
    "accounting": N_(
        "Accounting shows the company's money and closes the business days. Accountants and "
        "admins may use it."
    ),
    "analytics": N_(
        "Analytics shows the company's earnings and most expensive tasks. Only admins may use it."
    ),
    "popugs": N_(
        "The popugs pages create popugs, change their roles and show the audit trail. Only "
        "admins may use them."
    ),
}
# Areas whose roles are the same, told apart by the blueprint of the page asked for.
AREA_OF_BLUEPRINT = {"analytics": "analytics", "auth": "popugs"}


def refusal(roles) -> str:
    """Why a signed-in popug may not open this page: what it is for and who may use it, and
    the popug's own role; translated here (the error page shows it as it is)."""
    from flask_babel import gettext

    from app.i18n import label

    areas = [area for area, allowed in ACCESS.items() if set(allowed) == set(roles)]
    if len(areas) > 1:
        areas = [area for area in areas if area == AREA_OF_BLUEPRINT.get(request.blueprint)]
    purpose = PURPOSES.get(areas[0]) if areas else None
    you = gettext("You are signed in as %(role)s.", role=label(current_user.role, "role"))
    if purpose is None:
        return " ".join([gettext("Your role may not use this page."), you])
    return " ".join([gettext(purpose), you])


def can(area: str) -> bool:
    return current_user.is_authenticated and current_user.role in ACCESS[area]
