from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask_login import current_user, login_required

from webapp.db import get_engine, get_session
from webapp.deals import services
from webapp.deals.forms import DealForm
from webapp.htmx import is_htmx
from webapp.scoping import NotFound
from webapp.listing import parse_page
from webapp.money import amount_input, example
from webapp.sync import services as sync_services

bp = Blueprint("deals", __name__, url_prefix="/deals")


def _input(form: DealForm) -> services.DealInput:
    picked = (form.contact_id.data or "").strip()
    picked = picked if picked.isdigit() and int(picked) < 2**31 else ("0" if picked else "")  # 0: no such contact
    return services.DealInput(
        name=form.name.data or "",
        amount=form.amount.data,
        currency=form.currency.data,
        stage=form.stage.data,
        close_date=form.close_date.data,
        contact_id=int(picked) if picked else None,
        contact=form.contact.data or "",
        locale=current_user.locale,
    )


def _show_contact(form: DealForm, option) -> None:
    form.contact_id.data = str(option.id) if option else ""
    form.contact.data = option.label if option else ""


@bp.get("")
@login_required
def index():
    query = request.args.get("q", "")[:200]
    stage = request.args.get("stage", "")
    page = services.list_deals(
        get_session(),
        current_user.workspace_id,
        query=query,
        stage=stage,
        page=parse_page(request.args.get("page")),
    )
    template = "partials/deals/_list.html" if is_htmx() else "deals/index.html"
    return render_template(template, page=page, query=query, stage=stage)


def _after_change(session) -> None:
    """With "push immediately", a sync is queued now (the scheduler's poller runs it): never
    a Salesforce call inside the request."""
    sync_services.push_soon(session, get_engine(), current_user.workspace_id, current_user.id)


def _save(form: DealForm, deal=None):
    """Shared by create and edit: validate, save, or re-render the form with its errors."""
    session = get_session()
    form.stage.choices = services.stages(session, current_user.workspace_id, deal.stage if deal else None)
    if form.is_submitted():
        # The form's own checks and the service's both run, so every field's problem shows at once.
        form_ok = form.validate()
        try:
            if form_ok:
                saved = services.save_deal(session, current_user.workspace_id, _input(form), deal)
            else:
                services.check_deal(session, current_user.workspace_id, _input(form), deal)
        except services.DealError as exc:
            session.rollback()
            form_ok = False
            for name, message in exc.errors.items():
                field = getattr(form, name)
                if not field.errors:
                    field.errors = [*field.errors, message]
        if form_ok:
            session.commit()
            _after_change(session)
            flash(f"Deal “{saved.name}” saved.", "success")
            return redirect(url_for("deals.index"))
    status = 422 if request.method == "POST" else 200
    link = services.salesforce_link(session, current_user.workspace_id, deal.id) if deal else None
    return render_template("deals/form.html", form=form, deal=deal, link=link,
                           amount_example=example(current_user.locale)), status


@bp.route("/new", methods=["GET", "POST"])
@login_required
def create():
    form = DealForm()
    if request.method == "GET" and request.args.get("contact_email"):
        _show_contact(form, services.contact_by_email(get_session(), current_user.workspace_id,
                                                      request.args["contact_email"][:254]))
    return _save(form)


@bp.route("/<int:deal_id>/edit", methods=["GET", "POST"])
@login_required
def edit(deal_id: int):
    session = get_session()
    try:
        deal = services.get_deal(session, current_user.workspace_id, deal_id)
    except NotFound:
        abort(404)
    form = DealForm(obj=deal)
    if request.method == "GET":
        form.amount.data = amount_input(deal.amount_minor, deal.currency, current_user.locale)
        _show_contact(form, services.contact_option(session, current_user.workspace_id, deal.contact_id))
    return _save(form, deal)


@bp.get("/contacts")
@login_required
def contact_options():
    """The deal form's contact search: the matching contacts as a list to pick from."""
    query = request.args.get("contact", "")[:100]
    options = services.search_contacts(get_session(), current_user.workspace_id, query)
    return render_template("partials/deals/_contact_options.html", options=options, query=query.strip())


@bp.post("/<int:deal_id>/delete")
@login_required
def delete(deal_id: int):
    session = get_session()
    try:
        name = services.delete_deal(session, current_user.workspace_id, deal_id)
    except NotFound:
        abort(404)
    session.commit()
    _after_change(session)
    flash(f"Deal “{name}” deleted.", "success")
    return redirect(url_for("deals.index"))
