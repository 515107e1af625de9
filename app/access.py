"""Who may use which part of aTES: the roles of each area, the decorator
routes use, and `can()` for templates. App-level, like clock and money: every blueprint's routes
use it, and it imports none of them."""

from functools import wraps

from flask import abort
from flask_login import current_user, login_required


def role_required(*roles: str):
    """Signed in (else the sign-in page) and one of `roles` (else 403)."""

    def decorator(view):
        @wraps(view)
        @login_required
        def wrapped(*args, **kwargs):
            if current_user.role not in roles:
                abort(403)
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


def can(area: str) -> bool:
    return current_user.is_authenticated and current_user.role in ACCESS[area]
