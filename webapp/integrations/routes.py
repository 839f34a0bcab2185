from flask import Blueprint, make_response, render_template, request
from flask_login import current_user, login_required

from webapp.integrations import salesforce_card as card_service

bp = Blueprint("integrations", __name__, url_prefix="/integrations")


@bp.get("/salesforce/card")
@login_required
def salesforce_card():
    result = card_service.lookup(current_user.workspace_id, request.args.get("email", ""))
    response = make_response(
        render_template(
            "partials/integrations/_salesforce_card.html",
            result=result,
            show_reason=current_user.is_admin,
        )
    )
    response.headers["X-Salesforce-Card"] = result.state
    response.headers["Cache-Control"] = "private, no-store"
    return response
