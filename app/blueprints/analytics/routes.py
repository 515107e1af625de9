from flask import render_template

from app.blueprints.auth.decorators import ACCESS, role_required

from . import bp


@bp.get("/analytics")
@role_required(*ACCESS["analytics"])
def dashboard():
    return render_template("analytics/dashboard.html")
