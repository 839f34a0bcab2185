"""Deals: list, create, edit; money as integer minor units; bad input changes nothing."""

from __future__ import annotations

from datetime import date

import pytest
from sqlmodel import select

from tests import factories
from webapp.models import Deal


def _form(**overrides):
    data = {
        "name": "Annual plan",
        "amount": "12500.50",
        "currency": "USD",
        "stage": "Qualification",
        "close_date": "2026-12-31",
        "contact": "",
    }
    data.update(overrides)
    return data


def test_create_deal_stores_integer_minor_units_and_links_the_contact(admin_client, db):
    with db() as s:
        contact_id = factories.contact(s, 1, email="Bea@Buyer.test").id
    response = admin_client.post("/deals/new", _form(contact="bea@BUYER.test"))
    assert response.status_code == 302
    with db() as s:
        deal = s.exec(select(Deal)).one()
    assert deal.amount_minor == 1_250_050
    assert isinstance(deal.amount_minor, int)
    assert str(deal.amount) == "12500.50"
    assert deal.contact_id == contact_id
    assert deal.close_date == date(2026, 12, 31)
    assert deal.updated_at.tzinfo is not None
    listing = admin_client.get("/deals").get_data(as_text=True)
    assert "Annual plan" in listing and "$12,500.50" in listing


def test_zero_decimal_currency(admin_client, db):
    assert admin_client.post("/deals/new", _form(amount="1500000", currency="JPY")).status_code == 302
    with db() as s:
        deal = s.exec(select(Deal)).one()
    assert deal.amount_minor == 1_500_000
    assert "¥1,500,000" in admin_client.get("/deals").get_data(as_text=True)


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"amount": "12.345"}, "at most 2 decimal places"),
        ({"amount": "12,50"}, "is not a number like 12,500.50"),
        ({"amount": "-5"}, "cannot be negative"),
        ({"amount": "99999999999999999"}, "too large"),
        ({"amount": "NaN"}, "not a number"),
        ({"amount": "9E+999999"}, "not a number"),
        ({"amount": "1e-999999999"}, "not a number"),
        ({"amount": "1_000"}, "not a number"),
        ({"name": "   "}, "This field is required"),
        ({"stage": "Won somehow"}, "Not a valid choice"),
        ({"currency": "XXX1"}, "Not a valid choice"),
        ({"contact": "nobody@nowhere.test"}, "Choose a contact from the list"),
        ({"contact": "Nobody at all"}, "Choose a contact from the list"),
        ({"close_date": "31/12/2026"}, "Not a valid date"),
    ],
)
def test_bad_input_is_refused_with_a_message_and_saves_nothing(admin_client, db, overrides, message):
    response = admin_client.post("/deals/new", _form(**overrides))
    assert response.status_code == 422
    assert message in response.get_data(as_text=True)
    with db() as s:
        assert s.exec(select(Deal)).all() == []


def test_edit_deal_and_failed_edit_leaves_it_unchanged(admin_client, db):
    with db() as s:
        deal_id = factories.deal(s, 1, name="Pilot", amount_minor=500_000).id
    page = admin_client.get(f"/deals/{deal_id}/edit").get_data(as_text=True)
    assert 'value="5,000.00"' in page and 'value="Pilot"' in page
    assert admin_client.post(f"/deals/{deal_id}/edit", _form(name="Pilot v2", amount="7000")).status_code == 302
    assert admin_client.post(f"/deals/{deal_id}/edit", _form(name="Broken", amount="x")).status_code == 422
    with db() as s:
        deal = s.get(Deal, deal_id)
    assert (deal.name, deal.amount_minor) == ("Pilot v2", 700_000)


def test_another_workspaces_deal_and_contact_are_out_of_reach(client, db, make_user):
    make_user("admin@acme.test", role="admin", workspace="Acme")
    _, other = make_user("admin@other.test", role="admin", workspace="Other")
    with db() as s:
        foreign_deal = factories.deal(s, other, name="Their deal").id
        factories.contact(s, other, email="theirs@other.test")
    client.login("admin@acme.test", "correct-horse-battery")
    assert client.get(f"/deals/{foreign_deal}/edit").status_code == 404
    assert client.post(f"/deals/{foreign_deal}/edit", _form()).status_code == 404
    response = client.post("/deals/new", _form(contact="theirs@other.test"))
    assert response.status_code == 422
    assert "Their deal" not in client.get("/deals").get_data(as_text=True)


def test_deal_list_filters_by_stage_and_searches(admin_client, db):
    with db() as s:
        factories.deal(s, 1, name="Alpha", stage="Closed Won")
        factories.deal(s, 1, name="Beta", stage="Prospecting")
    won = admin_client.get("/deals?stage=Closed Won").get_data(as_text=True)
    assert "Alpha" in won and "Beta" not in won
    found = admin_client.htmx_get("/deals?q=bet").get_data(as_text=True)
    assert "Beta" in found and "Alpha" not in found and "<html" not in found


def test_amounts_are_read_the_way_the_app_shows_them(admin_client, db):
    """"12,500.50" (and "$12,500.50", as the list shows it) in the default en_US."""
    for typed in ("12,500.50", "$12,500.50", "12500.5"):
        assert admin_client.post("/deals/new", _form(name=typed, amount=typed)).status_code == 302, typed
    with db() as s:
        assert {d.amount_minor for d in s.exec(select(Deal)).all()} == {1_250_050}


def test_amounts_follow_the_workspaces_locale(admin_client, db):
    from webapp.models import Workspace

    with db() as s:
        s.get(Workspace, 1).locale = "de_DE"
    admin_client.login("admin@acme.test", "correct-horse-battery")  # the session user carries the locale
    assert admin_client.post("/deals/new", _form(amount="12.500,50", currency="EUR")).status_code == 302
    refused = admin_client.post("/deals/new", _form(name="English style", amount="12,500.50", currency="EUR"))
    assert refused.status_code == 422
    assert "is not a number like 12.500,50" in refused.get_data(as_text=True)
    with db() as s:
        deal = s.exec(select(Deal)).one()
    assert deal.amount_minor == 1_250_050
    assert 'value="12.500,50"' in admin_client.get(f"/deals/{deal.id}/edit").get_data(as_text=True)
    assert "12.500,50\xa0€" in admin_client.get("/deals").get_data(as_text=True)


def test_every_fields_error_is_shown_at_once(admin_client, db):
    response = admin_client.post("/deals/new", _form(name="", amount="lots", stage="Won somehow", contact="Nobody"))
    assert response.status_code == 422
    page = response.get_data(as_text=True)
    for message in ("This field is required", "is not a number like 12,500.50", "Not a valid choice",
                    "Choose a contact from the list"):
        assert message in page, message
    assert page.count('class="error"') == 4
    with db() as s:
        assert s.exec(select(Deal)).all() == []


def test_the_contact_is_picked_by_searching(admin_client, db, make_user):
    _, other = make_user("admin@other.test", role="admin", workspace="Other")
    with db() as s:
        bea = factories.contact(s, 1, name="Bea Buyer", email="bea@buyer.test").id
        factories.contact(s, 1, name="Abe Beach", email="abe@shore.test")
        factories.contact(s, 1, name="Carl Coder", email="carl@code.test")
        theirs = factories.contact(s, other, name="Bea Elsewhere", email="bea@other.test").id
    options = admin_client.htmx_get("/deals/contacts?contact=bea").get_data(as_text=True)
    assert f'data-value="{bea}"' in options and "Abe Beach" in options  # names and emails, any part
    assert options.index("Bea Buyer") < options.index("Abe Beach")  # names starting with it first
    assert "Carl" not in options and "Elsewhere" not in options and 'role="option"' in options
    assert "No contact matches" in admin_client.htmx_get("/deals/contacts?contact=zzz").get_data(as_text=True)
    assert admin_client.post("/deals/new", _form(contact="Bea Buyer <bea@buyer.test>", contact_id=str(bea))).status_code == 302
    with db() as s:
        deal = s.exec(select(Deal)).one()
    assert deal.contact_id == bea
    page = admin_client.get(f"/deals/{deal.id}/edit").get_data(as_text=True)
    assert f'value="{bea}"' in page and "Bea Buyer &lt;bea@buyer.test&gt;" in page
    # Another workspace's contact cannot be picked by its id.
    refused = admin_client.post("/deals/new", _form(name="Theirs", contact="x", contact_id=str(theirs)))
    assert refused.status_code == 422 and "Choose a contact from the list" in refused.get_data(as_text=True)
    for forged in ("99999999999999999999", "x1", "-3"):  # refused with the message, never a crash
        refused = admin_client.post("/deals/new", _form(name="Forged", contact="", contact_id=forged))
        assert refused.status_code == 422 and "Choose a contact from the list" in refused.get_data(as_text=True)
    # "New deal" from a contact's page arrives with the contact picked.
    page = admin_client.get("/deals/new?contact_email=BEA@buyer.test").get_data(as_text=True)
    assert f'value="{bea}"' in page
