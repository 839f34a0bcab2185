from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask_login import current_user, login_required

from webapp.contacts import services
from webapp.contacts.forms import ContactForm
from webapp.db import get_engine, get_session
from webapp.htmx import is_htmx
from webapp.scoping import NotFound
from webapp.listing import parse_page
from webapp.sync import services as sync_services

bp = Blueprint("contacts", __name__, url_prefix="/contacts")


@bp.get("")
@login_required
def index():
    query = request.args.get("q", "")[:200]
    page = services.list_contacts(
        get_session(), current_user.workspace_id, query=query, page=parse_page(request.args.get("page"))
    )
    template = "partials/contacts/_list.html" if is_htmx() else "contacts/index.html"
    return render_template(template, page=page, query=query)


@bp.get("/<int:contact_id>")
@login_required
def detail(contact_id: int):
    try:
        detail = services.contact_detail(get_session(), current_user.workspace_id, contact_id)
    except NotFound:
        abort(404)
    return render_template("contacts/detail.html", detail=detail)


@bp.route("/<int:contact_id>/edit", methods=["GET", "POST"])
@login_required
def edit(contact_id: int):
    session = get_session()
    try:
        contact = services.get_contact(session, current_user.workspace_id, contact_id)
    except NotFound:
        abort(404)
    form = ContactForm(obj=contact)
    if form.validate_on_submit():
        services.update_contact(session, current_user.workspace_id, contact_id, name=form.name.data or "",
                                title=form.title.data or "", phone=form.phone.data or "")
        session.commit()
        if contact.salesforce_id:  # an edit of a linked contact goes out at once when the admin chose so
            sync_services.push_soon(session, get_engine(), current_user.workspace_id, current_user.id)
        flash("Contact saved.", "success")
        return redirect(url_for("contacts.detail", contact_id=contact_id))
    status = 422 if request.method == "POST" else 200
    return render_template("contacts/form.html", form=form, contact=contact), status
