"""Turning two-way on shows what it will do first ("N deals will be created in Salesforce")
and lets the admin choose between pushing the existing deals and only deals from now on;
the push honours the choice."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select
from sqlmodel import Session

from tests.salesforce.sync.conftest import sync
from tests.salesforce.sync.test_two_way_settings import URL, _form, _settings
from tests.salesforce.sync.twoway_helpers import add_deal, link, opportunities
from webapp.clock import utcnow
from webapp.db import get_engine
from webapp.models import Deal


def _age(app, deal_id, days=3):
    with Session(get_engine(app)) as s:
        deal = s.get(Deal, deal_id)
        deal.created_at = deal.updated_at = utcnow() - timedelta(days=days)
        s.commit()


def test_turning_on_previews_the_deals_it_would_create_and_saves_nothing_yet(connected, admin_client):
    for i in range(3):
        add_deal(connected, f"Existing {i}")
    response = admin_client.post(URL, _form())
    page = response.get_data(as_text=True)
    assert response.status_code == 200
    assert "3 deals will be created in Salesforce" in page
    assert 'name="existing" value="all"' in page and 'name="existing" value="new"' in page
    assert '<span class="badge" id="two-way-state">Off</span>' in page  # not on until the admin chooses
    assert _settings(connected) is None or not _settings(connected).two_way


def test_only_deals_from_now_on_leaves_the_existing_ones_here(connected, admin_client, emulator):
    sync(connected)
    old = add_deal(connected, "Before two-way")
    _age(connected, old)
    response = admin_client.post(URL, _form(existing="new"))
    assert response.status_code == 302
    saved = _settings(connected)
    assert saved.two_way and saved.two_way_since is not None
    assert "Only deals created since" in admin_client.get("/settings/integrations/salesforce?tab=two-way").get_data(as_text=True)
    new = add_deal(connected, "After two-way")

    _, outcome = sync(connected)
    assert outcome.status == "succeeded"
    assert opportunities(emulator, "Before two-way") == [] and link(connected, old) is None
    assert len(opportunities(emulator, "After two-way")) == 1 and link(connected, new).state == "linked"
    _, again = sync(connected)  # and it stays that way
    assert again.status == "succeeded" and opportunities(emulator, "Before two-way") == []


def test_pushing_the_existing_deals_creates_them_all(connected, admin_client, emulator):
    sync(connected)
    old = add_deal(connected, "Existing, pushed")
    _age(connected, old)
    assert admin_client.post(URL, _form(existing="all")).status_code == 302
    assert _settings(connected).two_way_since is None
    sync(connected)
    assert len(opportunities(emulator, "Existing, pushed")) == 1


def test_a_bogus_choice_is_asked_again_and_nothing_is_saved(connected, admin_client):
    add_deal(connected, "Waiting")
    response = admin_client.post(URL, _form(existing="everything"))
    assert response.status_code == 200 and "1 deal will be created in Salesforce" in response.get_data(as_text=True)
    assert _settings(connected) is None or not _settings(connected).two_way


def test_a_refused_save_keeps_the_badge_off(connected, admin_client):
    response = admin_client.post(URL, _form(existing="all", **{"rule:deal.name": "whoever"}))
    page = response.get_data(as_text=True)
    assert response.status_code == 422 and "Two-way settings not saved" in page
    assert '<span class="badge" id="two-way-state">Off</span>' in page
    assert 'name="two_way" checked' in page  # what the admin ticked is kept in the form
    with Session(get_engine(connected)) as s:
        assert s.execute(select(Deal.id)).first() is None
