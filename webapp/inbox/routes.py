from datetime import timedelta

from flask import Blueprint, abort, current_app, flash, redirect, render_template, request, url_for
from flask_login import current_user, login_required

from webapp.db import get_engine, get_session
from webapp.htmx import is_htmx
from webapp.inbox import replies, services
from webapp.mail.fetch import FetchOptions
from webapp.integrations import card_slots
from webapp.listing import parse_page
from webapp.scoping import NotFound
from webapp.sync import activity

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
    box = replies.prefill(get_session(), current_user.workspace_id, conversation_id, current_user.id, _stale_after())
    return _conversation_page(view, box)


def _conversation_page(view, box, status: int = 200):
    session = get_session()
    ids = [m.id for m in view.messages]
    contact = view.contact.contact if view.contact else None
    logged = activity.conversation_log(session, current_user.workspace_id, ids)
    notes = replies.notes(session, current_user.workspace_id, ids)
    return render_template(
        "inbox/conversation.html", view=view, cards=card_slots(contact), logged=logged, box=box, reply_notes=notes
    ), status


def _stale_after() -> timedelta:
    """How long a reply may take to send before "sending" means it never finished."""
    return timedelta(seconds=3 * float(current_app.config.get("MAIL_TIMEOUT_SECONDS", 30)) + 30)


@bp.post("/inbox/<int:conversation_id>/reply")
@login_required
def reply(conversation_id: int):
    """Send a reply over SMTP, once per form (its token), and show it at once."""
    form = request.form
    data = replies.ReplyInput(token=form.get("token", ""), mailbox_id=form.get("mailbox_id"), to=form.get("to", ""),
                              cc=form.get("cc", ""), body=form.get("body", ""))
    get_session().commit()  # ends the sign-in check's transaction: none stays open while SMTP answers
    try:
        outcome = replies.send(get_engine(), current_app.extensions["vault"], FetchOptions.from_config(current_app.config),
                               current_user.workspace_id, current_user.id, conversation_id, data, _stale_after())
    except NotFound:
        abort(404)
    except replies.ReplyError as exc:
        box = replies.refused(get_session(), current_user.workspace_id, conversation_id, current_user.id, data, exc,
                              _stale_after())
        if is_htmx():
            response = current_app.make_response((render_template("partials/inbox/_reply.html", box=box), 422))
            response.headers["HX-Retarget"] = "#reply"
            return response
        view = services.get_conversation(get_session(), current_user.workspace_id, conversation_id)
        return _conversation_page(view, box, 422)
    if is_htmx():
        return render_template("partials/inbox/_reply_result.html", box=outcome.box, new_message=outcome.message,
                               conversation=outcome.conversation, message_count=outcome.message_count, reply_notes={})
    if outcome.box.state == "sent" and outcome.message is not None:
        flash(outcome.box.message, "success")
        return redirect(url_for("inbox.conversation", conversation_id=conversation_id) + f"#message-{outcome.message.id}")
    view = services.get_conversation(get_session(), current_user.workspace_id, conversation_id)
    return _conversation_page(view, outcome.box)


@bp.post("/inbox/<int:conversation_id>/log")
@login_required
def log_to_salesforce(conversation_id: int):
    """Queue the conversation's messages and a sync run; Salesforce is not called here."""
    session = get_session()
    try:
        queued = activity.queue_conversation(session, current_user.workspace_id, conversation_id)
    except NotFound:
        abort(404)
    except activity.LoggingOff as exc:
        flash(str(exc), "info")
        return redirect(url_for("inbox.conversation", conversation_id=conversation_id))
    session.commit()
    if queued:
        activity.request_run(get_engine(), current_user.workspace_id, current_user.id)
    flash(f"{queued} message{'' if queued == 1 else 's'} queued; they are logged to Salesforce by the sync now under way."
          if queued else "Every message is already logged or on its way.", "success")
    return redirect(url_for("inbox.conversation", conversation_id=conversation_id))


@bp.get("/inbox/messages/<int:message_id>")
@login_required
def message(message_id: int):
    """A message's place in its conversation (links from the sync's record errors)."""
    try:
        conversation_id = services.conversation_of(get_session(), current_user.workspace_id, message_id)
    except NotFound:
        abort(404)
    return redirect(url_for("inbox.conversation", conversation_id=conversation_id) + f"#message-{message_id}")


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
