"""The lazily loaded Salesforce card slot before any connection exists."""

from __future__ import annotations


def test_card_says_not_connected_to_admins(admin_client):
    response = admin_client.htmx_get("/integrations/salesforce/card?email=bea@buyer.test")
    assert response.status_code == 200
    assert response.headers["X-Salesforce-Card"] == "not-connected"
    body = response.get_data(as_text=True)
    assert "not connected" in body and "/settings/integrations/salesforce" in body
    assert "<html" not in body


def test_card_shows_members_nothing(member_client):
    response = member_client.htmx_get("/integrations/salesforce/card?email=bea@buyer.test")
    assert response.headers["X-Salesforce-Card"] == "not-connected"
    assert "hidden" in response.get_data(as_text=True)
    assert "not connected" not in response.get_data(as_text=True)


def test_card_without_email(admin_client):
    for url in ("/integrations/salesforce/card", "/integrations/salesforce/card?email=", "/integrations/salesforce/card?email=nonsense"):
        assert admin_client.htmx_get(url).headers["X-Salesforce-Card"] == "no-email"
