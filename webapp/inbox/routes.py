from flask import Blueprint, abort, redirect, render_template, request, url_for
from flask_login import current_user, login_required

from webapp.db import get_session
from webapp.htmx import is_htmx
from webapp.inbox import services
from webapp.integrations import card_slots
from webapp.listing import parse_page
from webapp.scoping import NotFound

bp = Blueprint("inbox", __name__)


@bp.get("/")
@login_required
def home():
    return redirect(url_for("inbox.index"))


@bp.get("/inbox")
@login_required
def index():
    listing = services.list_conversations(
        get_session(),
        current_user.workspace_id,
        status=request.args.get("status", "open"),
        query=request.args.get("q", "")[:200],
        page=parse_page(request.args.get("page")),
    )
    template = "partials/inbox/_list.html" if is_htmx() else "inbox/index.html"
    return render_template(template, listing=listing)


@bp.get("/inbox/<int:conversation_id>")
@login_required
def conversation(conversation_id: int):
    try:
        view = services.get_conversation(get_session(), current_user.workspace_id, conversation_id)
    except NotFound:
        abort(404)
    contact = view.contact.contact if view.contact else None
    return render_template(
        "inbox/conversation.html", view=view, cards=card_slots(contact)
    )


@bp.post("/inbox/<int:conversation_id>/status")
@login_required
def set_status(conversation_id: int):
    session = get_session()
    try:
        conversation = services.set_status(
            session, current_user.workspace_id, conversation_id, request.form.get("status", "")
        )
    except NotFound:
        abort(404)
    except ValueError:
        abort(400)
    session.commit()
    if is_htmx():
        return render_template("partials/inbox/_status.html", conversation=conversation)
    return redirect(url_for("inbox.conversation", conversation_id=conversation_id))
