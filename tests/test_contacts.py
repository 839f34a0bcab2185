"""Contacts list and detail."""

from __future__ import annotations

from tests import factories


def test_contacts_list_search_and_detail(admin_client, db):
    with db() as s:
        bea = factories.contact(s, 1, name="Bea Buyer", email="bea@buyer.test", company="Buyer Ltd")
        factories.contact(s, 1, name="Carl Client", email="carl@client.test")
        factories.conversation(s, 1, bea, subject="Bea's question")
        factories.deal(s, 1, name="Bea's deal", contact_id=bea.id)
        bea_id = bea.id
    listing = admin_client.get("/contacts").get_data(as_text=True)
    assert "Bea Buyer" in listing and "Carl Client" in listing
    found = admin_client.htmx_get("/contacts?q=buyer ltd").get_data(as_text=True)
    assert "Bea Buyer" in found and "Carl Client" not in found
    detail = admin_client.get(f"/contacts/{bea_id}").get_data(as_text=True)
    assert "Bea&#39;s question" in detail and "Bea&#39;s deal" in detail


def test_another_workspaces_contact_is_404(client, db, make_user):
    make_user("admin@acme.test", role="admin", workspace="Acme")
    _, other = make_user("admin@other.test", role="admin", workspace="Other")
    with db() as s:
        foreign = factories.contact(s, other, name="Hidden Person").id
    client.login("admin@acme.test", "correct-horse-battery")
    assert client.get(f"/contacts/{foreign}").status_code == 404
    assert "Hidden Person" not in client.get("/contacts").get_data(as_text=True)
