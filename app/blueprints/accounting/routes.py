from flask import render_template
from flask_login import current_user
from sqlalchemy import select

from app.blueprints.auth.decorators import ACCESS, role_required
from app.extensions import db

from . import bp, service
from .models import Account, LedgerEntry


@bp.get("/account")
@role_required(*ACCESS["my_account"])
def my_account():
    balance = service.balance_of(current_user.id)
    entries = db.session.scalars(
        select(LedgerEntry)
        .join(Account, Account.id == LedgerEntry.account_id)
        .where(Account.popug_id == current_user.id)
        .order_by(LedgerEntry.id.desc())
        .limit(50)
    ).all()
    return render_template("accounting/my_account.html", balance=balance, entries=entries)


@bp.get("/accounting")
@role_required(*ACCESS["accounting"])
def overview():
    accounts = db.session.scalars(select(Account).order_by(Account.username)).all()
    return render_template("accounting/overview.html", accounts=accounts)
