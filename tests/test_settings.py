"""Workspace settings and the integrations page."""

from __future__ import annotations

from sqlmodel import select

from webapp.models import Workspace, WorkspaceAddress


def test_admin_saves_name_timezone_and_own_addresses(admin_client, db):
    response = admin_client.post(
        "/settings/workspace",
        {"name": "Acme Support", "timezone": "Europe/Paris", "addresses": "Support@Acme.test\n@acme.io, acme.io"},
    )
    assert response.status_code == 302
    with db() as s:
        ws = s.exec(select(Workspace)).one()
        values = s.exec(select(WorkspaceAddress.value).order_by(WorkspaceAddress.value)).all()
    assert (ws.name, ws.timezone) == ("Acme Support", "Europe/Paris")
    assert values == ["acme.io", "support@acme.test"]


def test_bad_settings_are_refused_and_nothing_changes(admin_client, db):
    for data, message in (
        ({"name": "Acme", "timezone": "Mars/Olympus", "addresses": ""}, "not a known time zone"),
        ({"name": "Acme", "timezone": "UTC", "addresses": "not a domain!"}, "neither an email"),
        ({"name": "", "timezone": "UTC", "addresses": ""}, "needs a name"),
    ):
        response = admin_client.post("/settings/workspace", data)
        assert response.status_code == 422
        assert message in response.get_data(as_text=True)
    with db() as s:
        assert s.exec(select(Workspace.timezone)).one() == "UTC"
        assert s.exec(select(WorkspaceAddress)).all() == []


def test_integrations_page_has_a_salesforce_tile_with_the_callback_url(admin_client, app):
    page = admin_client.get("/settings/integrations").get_data(as_text=True)
    assert 'id="tile-salesforce"' in page and "Not connected" in page
    salesforce = admin_client.get("/settings/integrations/salesforce").get_data(as_text=True)
    assert app.config["PUBLIC_BASE_URL"] + "/oauth/salesforce/callback" in salesforce


def test_business_hours_are_saved_and_validated(admin_client, db):
    ok = {"name": "Acme", "timezone": "Europe/Paris", "addresses": "acme.test",
          "business_start": "08:30", "business_end": "18:00", "business_days": ["", "1", "2", "3", "4", "6"]}
    assert admin_client.post("/settings/workspace", ok).status_code == 302
    with db() as s:
        ws = s.exec(select(Workspace)).one()
    assert (ws.business_start, ws.business_end, ws.business_days) == ("08:30", "18:00", "12346")
    for bad, message in (
        ({"business_start": "18:00", "business_end": "09:00"}, "end after they start"),
        ({"business_days": [""]}, "at least one business day"),
        ({"business_start": "nine"}, "Business hours"),
    ):
        response = admin_client.post("/settings/workspace", {**ok, **bad})
        assert response.status_code == 422 and message in response.get_data(as_text=True)
    with db() as s:
        assert s.exec(select(Workspace.business_days)).one() == "12346"


def test_the_workspaces_locale_is_chosen_and_checked(admin_client, db):
    page = admin_client.get("/settings/workspace").get_data(as_text=True)
    assert "German (Germany) · 12.500,50" in page and 'value="en_US" selected' in page
    base = {"name": "Acme", "timezone": "UTC", "addresses": ""}
    refused = admin_client.post("/settings/workspace", {**base, "locale": "xx_YY"})
    assert refused.status_code == 422 and "not one of the offered locales" in refused.get_data(as_text=True)
    assert admin_client.post("/settings/workspace", {**base, "locale": "de_DE"}).status_code == 302
    with db() as s:
        assert s.exec(select(Workspace.locale)).one() == "de_DE"
