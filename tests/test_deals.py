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
        "contact_email": "",
    }
    data.update(overrides)
    return data


def test_create_deal_stores_integer_minor_units_and_links_the_contact(admin_client, db):
    with db() as s:
        contact_id = factories.contact(s, 1, email="Bea@Buyer.test").id
    response = admin_client.post("/deals/new", _form(contact_email="bea@BUYER.test"))
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
        ({"amount": "12,50"}, "is not a number"),
        ({"amount": "-5"}, "cannot be negative"),
        ({"amount": "99999999999999999"}, "too large"),
        ({"amount": "NaN"}, "not a number"),
        ({"amount": "9E+999999"}, "not a number"),
        ({"amount": "1e-999999999"}, "not a number"),
        ({"amount": "1_000"}, "not a number"),
        ({"name": "   "}, "This field is required"),
        ({"stage": "Won somehow"}, "Not a valid choice"),
        ({"currency": "XXX1"}, "Not a valid choice"),
        ({"contact_email": "nobody@nowhere.test"}, "No contact in this workspace"),
        ({"contact_email": "not-an-email"}, "not a valid email"),
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
    assert 'value="5000.00"' in page and 'value="Pilot"' in page
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
    response = client.post("/deals/new", _form(contact_email="theirs@other.test"))
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
