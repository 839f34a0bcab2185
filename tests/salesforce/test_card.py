"""The Salesforce card against the emulator: what it shows, when it doesn't, what it costs."""

from __future__ import annotations

import threading
import time
import uuid

import pytest
from cachelib import RedisCache, SimpleCache

from tests.salesforce.conftest import connect_with_oauth
from webapp.cache import SingleFlight
from webapp.db import get_engine
from webapp.integrations import card_cache
from webapp.integrations import salesforce_card as card
from webapp.integrations.live_lookups import LiveLookups
from webapp.salesforce import soql
from webapp.salesforce.errors import BadQuery

CARD = "/integrations/salesforce/card"


def _org(emulator):
    return emulator.app.emulator.store


def _contact_with_opportunities(emulator, minimum=1):
    store = _org(emulator)
    opps = store.tables["Opportunity"].records
    for c in store.tables["Contact"].records:
        if c["IsDeleted"] or not c.get("Email") or not c.get("AccountId") or not c.get("Title") or not c.get("LeadSource"):
            continue
        mine = [o for o in opps if o["AccountId"] == c["AccountId"] and not o["IsDeleted"]]
        shared = [x for x in store.tables["Contact"].records if (x.get("Email") or "").lower() == c["Email"].lower() and not x["IsDeleted"]]
        if len(mine) >= minimum and len(shared) == 1:
            return c, mine
    raise AssertionError("no suitable contact in the emulator org")


def _calls(emulator) -> int:
    calls = emulator.app.emulator.calls
    return calls["query"] + calls["query_more"]


@pytest.fixture
def connected(admin_client, emulator):
    connect_with_oauth(admin_client, emulator)
    return admin_client


def test_card_shows_account_title_lead_source_and_opportunities(connected, emulator):
    contact, opps = _contact_with_opportunities(emulator)
    account = _org(emulator).get("Account", contact["AccountId"])
    before = _calls(emulator)
    response = connected.htmx_get(f"{CARD}?email={contact['Email'].upper()}")
    assert response.headers["X-Salesforce-Card"] == "shown"
    assert _calls(emulator) - before == 2
    body = response.get_data(as_text=True)
    assert f"<strong>{account['Name']}</strong>".replace("'", "&#39;") in body
    assert contact["Title"] in body and contact["LeadSource"] in body
    url = f"{emulator.url}/lightning/r/Contact/{contact['Id']}/view"
    assert f'href="{url}" target="_blank" rel="noopener noreferrer"' in body
    shown = body.count('class="opportunity"')
    assert shown == min(5, len(opps))
    for opp in opps:
        if opp["Name"] in body:
            expected = "won" if opp["IsWon"] else "lost" if opp["IsClosed"] else "open"
            segment = body[body.index(opp["Name"].replace("'", "&#39;")):]
            assert segment.index(f"pill-{expected}") < segment.index("</li>")


def test_pills_follow_is_won_and_is_closed_not_stage_names(connected, emulator):
    assert card.pill(True, True) == "won"
    assert card.pill(False, True) == "lost"
    assert card.pill(False, False) == "open"
    assert card.pill(None, None) == "open"


def test_a_contact_without_account_costs_one_call(connected, emulator):
    store = _org(emulator)
    orphan = next(c for c in store.tables["Contact"].records if not c.get("AccountId") and c.get("Email") and not c["IsDeleted"])
    before = _calls(emulator)
    response = connected.htmx_get(f"{CARD}?email={orphan['Email']}")
    assert response.headers["X-Salesforce-Card"] == "shown"
    assert _calls(emulator) - before == 1
    assert "No account" in response.get_data(as_text=True)


def test_hits_and_misses_are_cached(connected, emulator):
    contact, _ = _contact_with_opportunities(emulator)
    connected.htmx_get(f"{CARD}?email={contact['Email']}")
    before = _calls(emulator)
    for _ in range(3):
        assert connected.htmx_get(f"{CARD}?email={contact['Email'].lower()}").headers["X-Salesforce-Card"] == "shown"
    assert _calls(emulator) == before
    for _ in range(3):
        assert connected.htmx_get(f"{CARD}?email=nobody-{uuid.uuid4().hex}@nowhere.test").headers["X-Salesforce-Card"] == "no-match"
    assert _calls(emulator) == before + 6  # a miss asks for contacts, then for leads
    miss = f"{CARD}?email=still-nobody@nowhere.test"
    connected.htmx_get(miss)
    connected.htmx_get(miss)
    assert _calls(emulator) == before + 8


def test_cache_entries_expire(connected, emulator, monkeypatch):
    monkeypatch.setattr(card_cache, "TTL_SECONDS", 1)
    contact, _ = _contact_with_opportunities(emulator)
    connected.htmx_get(f"{CARD}?email={contact['Email']}")
    before = _calls(emulator)
    time.sleep(1.2)
    connected.htmx_get(f"{CARD}?email={contact['Email']}")
    assert _calls(emulator) == before + 2


@pytest.mark.parametrize(
    "email", ["o'brien@example.com", "back\\slash@example.com", "josé.müller@exämple.com", "quote\"d@example.com"]
)
def test_emails_are_escaped_in_soql(connected, emulator, email):
    response = connected.htmx_get(CARD, query_string={"email": email})
    assert response.status_code == 200
    assert response.headers["X-Salesforce-Card"] == "no-match"


def test_the_emulator_rejects_a_bad_escape_so_escaping_matters(connected, emulator):
    from webapp.integrations.salesforce_connection import client_for

    client = client_for(get_engine(connected.app), connected.app.extensions["vault"], 1)
    with pytest.raises(BadQuery):
        client.count("SELECT COUNT() FROM Contact WHERE Email = 'back\\slash@example.com'")
    assert soql.quote("o'b\\x") == "'o\\'b\\\\x'"


def test_apostrophe_email_matches_its_contact(connected, emulator):
    store = _org(emulator)
    target = next(c for c in store.tables["Contact"].records if "'" in (c.get("Email") or "") and not c["IsDeleted"])
    assert connected.htmx_get(CARD, query_string={"email": target["Email"]}).headers["X-Salesforce-Card"] == "shown"


def test_several_contacts_share_an_email(connected, emulator):
    store = _org(emulator)
    by_email: dict[str, list] = {}
    for c in store.tables["Contact"].records:
        if c.get("Email") and not c["IsDeleted"]:
            by_email.setdefault(c["Email"].lower(), []).append(c)
    email, people = next((e, p) for e, p in by_email.items() if len(p) > 1)
    body = connected.htmx_get(CARD, query_string={"email": email}).get_data(as_text=True)
    newest = max(people, key=lambda c: c["LastModifiedDate"])
    assert newest["Id"] in body
    assert f"{len(people) - 1} other Salesforce contact" in body


def test_when_not_shown(client, make_user, db, emulator, admin_client):
    assert admin_client.htmx_get(f"{CARD}?email=a@b.test").headers["X-Salesforce-Card"] == "not-connected"
    assert admin_client.htmx_get(f"{CARD}?email=").headers["X-Salesforce-Card"] == "no-email"
    bad = admin_client.htmx_get(f"{CARD}?email=not-an-email")
    assert bad.status_code == 400 and bad.headers["X-Salesforce-Card"] == "no-email"
    connect_with_oauth(admin_client, emulator)
    emulator.app.emulator.revoke_refresh_tokens()
    emulator.app.emulator.expire_sessions()
    response = admin_client.htmx_get(f"{CARD}?email=someone@else.test")
    assert response.headers["X-Salesforce-Card"] == "reconnect"
    assert "Reconnect" in response.get_data(as_text=True)
    # The card now stands down without calling Salesforce.
    before = _calls(emulator)
    assert admin_client.htmx_get(f"{CARD}?email=other@else.test").headers["X-Salesforce-Card"] == "reconnect"
    assert _calls(emulator) == before


@pytest.mark.parametrize("fault", [{"unavailable": 10}, {"edge_502": 10}])
def test_salesforce_down_gives_unavailable_and_is_not_cached(connected, emulator, fault):
    contact, _ = _contact_with_opportunities(emulator)
    emulator.app.emulator.set_faults(**fault)
    response = connected.htmx_get(f"{CARD}?email={contact['Email']}")
    assert response.status_code == 200
    assert response.headers["X-Salesforce-Card"] == "unavailable"
    assert "Retry" in response.get_data(as_text=True)
    emulator.app.emulator.set_faults(unavailable=0, edge_502=0)
    assert connected.htmx_get(f"{CARD}?email={contact['Email']}").headers["X-Salesforce-Card"] == "shown"


def test_limit_exceeded_gives_unavailable(connected, emulator):
    contact, _ = _contact_with_opportunities(emulator)
    emulator.app.emulator.set_faults(fail_after=emulator.app.emulator.api_used)
    assert connected.htmx_get(f"{CARD}?email={contact['Email']}").headers["X-Salesforce-Card"] == "unavailable"


def test_script_from_salesforce_is_rendered_inert(connected, emulator):
    from webapp.integrations.salesforce_connection import client_for

    contact, opps = _contact_with_opportunities(emulator)
    client = client_for(get_engine(connected.app), connected.app.extensions["vault"], 1)
    client.update("Account", contact["AccountId"], {"Name": "<script>alert('acct')</script>"})
    for opp in opps:
        client.update("Opportunity", opp["Id"], {"Name": '<img src=x onerror="alert(1)">'})
    client.update("Contact", contact["Id"], {"Title": "<b>boss</b>"})
    body = connected.htmx_get(f"{CARD}?email={contact['Email']}").get_data(as_text=True)
    assert "<script>alert" not in body and "<img src=x" not in body and "<b>boss</b>" not in body
    assert "&lt;script&gt;" in body and "&lt;img src=x" in body


def test_record_links_only_to_http_instance_urls():
    assert card.record_url("https://acme.my.salesforce.com", "003xx") == "https://acme.my.salesforce.com/lightning/r/Contact/003xx/view"
    assert card.record_url("javascript:alert(1)//", "003") is None
    assert card.record_url("ftp://x.test", "003") is None
    assert card.record_url(None, "003") is None


def test_members_see_the_card_but_no_reasons(connected, emulator, make_user, app):
    contact, _ = _contact_with_opportunities(emulator)
    make_user("m@acme.test", role="member")
    member = type(connected)(app)
    member.login("m@acme.test", "correct-horse-battery")
    shown = member.htmx_get(f"{CARD}?email={contact['Email']}")
    assert shown.headers["X-Salesforce-Card"] == "shown" and "Opportunities" in shown.get_data(as_text=True)
    missing = member.htmx_get(f"{CARD}?email=nobody@nowhere.test")
    assert missing.headers["X-Salesforce-Card"] == "no-match"
    assert "hidden" in missing.get_data(as_text=True) and "Salesforce:" not in missing.get_data(as_text=True)


def test_refresh_bypasses_the_cache_and_is_rate_limited_per_user(connected, emulator):
    contact, _ = _contact_with_opportunities(emulator)
    url = f"{CARD}?email={contact['Email']}"
    connected.htmx_get(url)
    before = _calls(emulator)
    connected.htmx_get(url + "&refresh=1")
    assert _calls(emulator) == before + 2
    connected.htmx_get(url + "&refresh=1")  # too soon: served from the cache
    assert _calls(emulator) == before + 2


def test_invalidation_drops_a_cached_card(connected, emulator):
    contact, _ = _contact_with_opportunities(emulator)
    url = f"{CARD}?email={contact['Email']}"
    connected.htmx_get(url)
    card_cache.invalidate(connected.app.extensions["cache"], 1, [contact["Email"]])
    before = _calls(emulator)
    connected.htmx_get(url)
    assert _calls(emulator) == before + 2


def test_another_workspace_never_gets_a_cached_card(connected, emulator, make_user, app):
    contact, _ = _contact_with_opportunities(emulator)
    assert connected.htmx_get(f"{CARD}?email={contact['Email']}").headers["X-Salesforce-Card"] == "shown"
    make_user("admin@other.test", role="admin", workspace="Other")
    other = type(connected)(app)
    other.login("admin@other.test", "correct-horse-battery")
    response = other.htmx_get(f"{CARD}?email={contact['Email']}")
    assert response.headers["X-Salesforce-Card"] == "not-connected"
    assert contact["Title"] not in response.get_data(as_text=True)


def _services(app, cache, flights, **lookups):
    return card.CardServices(
        engine=get_engine(app), vault=app.extensions["vault"], cache=cache, flights=flights,
        lookups=LiveLookups(**{"waiters": 20, **lookups}),
    )


def _concurrent_lookups(app, services_list, email, n=20):
    results, barrier = [], threading.Barrier(n)

    def work(services):
        barrier.wait()
        results.append(card.lookup(services, 1, email).state)

    threads = [threading.Thread(target=work, args=(services_list[i % len(services_list)],)) for i in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    return results


def test_concurrent_misses_make_one_lookup(connected, emulator):
    contact, _ = _contact_with_opportunities(emulator)
    emulator.app.emulator.set_faults(latency_ms=150)
    services = _services(connected.app, SimpleCache(), SingleFlight())
    before = _calls(emulator)
    results = _concurrent_lookups(connected.app, [services], contact["Email"])
    assert results == ["shown"] * 20
    assert _calls(emulator) - before == 2


def test_concurrent_misses_across_processes_share_one_lookup_through_redis(connected, emulator):
    import redis

    contact, _ = _contact_with_opportunities(emulator)
    emulator.app.emulator.set_faults(latency_ms=150)
    prefix = f"test-card-{uuid.uuid4().hex}:"
    # Two "processes": separate Redis connections and separate locks, one shared Redis cache.
    processes = [
        _services(
            connected.app,
            RedisCache(redis.Redis.from_url("redis://127.0.0.1:6379/0"), key_prefix=prefix),
            SingleFlight(redis.Redis.from_url("redis://127.0.0.1:6379/0")),
        )
        for _ in range(2)
    ]
    before = _calls(emulator)
    results = _concurrent_lookups(connected.app, processes, contact["Email"])
    assert results == ["shown"] * 20
    assert _calls(emulator) - before == 2


def test_multi_currency_amounts_use_each_opportunitys_currency(admin_client, start_emulator):
    emulator = start_emulator(multi_currency=True)
    connect_with_oauth(admin_client, emulator)
    contact, opps = _contact_with_opportunities(emulator)
    body = admin_client.htmx_get(f"{CARD}?email={contact['Email']}").get_data(as_text=True)
    symbols = {"EUR": "€", "GBP": "£", "JPY": "¥", "CAD": "CA$", "USD": "$"}
    shown = [o for o in opps if o["Name"].replace("'", "&#39;") in body and o.get("Amount") is not None]
    assert shown
    for opp in shown:
        segment = body[body.index(opp["Name"].replace("'", "&#39;")):]
        assert symbols[opp["CurrencyIsoCode"]] in segment[: segment.index("</li>")]


def test_when_salesforce_is_down_the_card_shows_the_synced_copy_as_of_its_age(connected, emulator, db):
    from datetime import UTC, datetime, timedelta

    from webapp.models.mirror import SfAccount, SfContact, SfOpportunity

    synced = datetime.now(UTC) - timedelta(hours=3)
    with db() as s:
        s.add_all([
            SfAccount(workspace_id=1, sf_id="001MIRROR000000AAA", name="Mirror Account", system_modstamp=synced, synced_at=synced),
            SfContact(workspace_id=1, sf_id="003MIRROR000000AAA", account_id="001MIRROR000000AAA", email="kept@mirror.test",
                      email_normalized="kept@mirror.test", name="Kept Person", title="Buyer", system_modstamp=synced, synced_at=synced),
            SfOpportunity(workspace_id=1, sf_id="006MIRROR000000AAA", account_id="001MIRROR000000AAA", name="Mirror deal",
                          stage_name="Closed Lost", is_closed=True, amount_minor=1_234_500, currency="USD",
                          system_modstamp=synced, synced_at=synced),
        ])
    emulator.app.emulator.set_faults(unavailable=10)
    response = connected.htmx_get(f"{CARD}?email=kept@mirror.test")
    body = response.get_data(as_text=True)
    assert response.headers["X-Salesforce-Card"] == "shown"
    assert "Mirror Account" in body and "pill-lost" in body and "$12,345.00" in body
    assert "Salesforce could not be reached; showing data synced 3 hours ago" in body
    # The copy is not cached: once Salesforce answers again, the live data comes back.
    emulator.app.emulator.set_faults(unavailable=0)
    assert connected.htmx_get(f"{CARD}?email=kept@mirror.test").headers["X-Salesforce-Card"] == "no-match"


# -- leads, several matches, creating from the card --------------------------------------------

from sqlalchemy import select as _select  # noqa: E402

from tests.salesforce.sync.conftest import sync as _run_sync  # noqa: E402
from webapp.models import Contact as InboxContact  # noqa: E402
from webapp.models import SalesforceChoice, SalesforceCreate  # noqa: E402

CREATE = f"{CARD}/create"


def _live(store, sobject):
    return [r for r in store.tables[sobject].records if not r["IsDeleted"]]


def _by_email(records):
    groups: dict[str, list] = {}
    for r in records:
        if r.get("Email"):
            groups.setdefault(r["Email"].lower(), []).append(r)
    return groups


def _single_lead(emulator, converted: bool):
    store = _org(emulator)
    contacts = _by_email(_live(store, "Contact"))
    for email, leads in _by_email(_live(store, "Lead")).items():
        if len(leads) == 1 and email not in contacts and bool(leads[0]["IsConverted"]) == converted:
            if not converted or store.get("Contact", leads[0]["ConvertedContactId"]):
                return leads[0]
    raise AssertionError("no such lead in the emulator org")


def _key(body: str) -> str:
    import re

    return re.search(r'name="key" value="([^"]+)"', body).group(1)


def test_an_open_lead_is_shown_marked_lead_in_two_calls(connected, emulator):
    lead = _single_lead(emulator, converted=False)
    before = _calls(emulator)
    response = connected.htmx_get(CARD, query_string={"email": lead["Email"]})
    body = response.get_data(as_text=True)
    assert response.headers["X-Salesforce-Card"] == "shown"
    assert response.headers["X-Salesforce-Record"] == "Lead"
    assert _calls(emulator) - before == 2
    assert 'class="badge badge-lead">Lead<' in body
    for value in (lead["Name"], lead["Company"], lead["Title"], lead["Status"], lead["LeadSource"]):
        assert value.replace("'", "&#39;") in body
    assert f'href="{emulator.url}/lightning/r/Lead/{lead["Id"]}/view"' in body
    # A contact's card says Contact.
    contact, _ = _contact_with_opportunities(emulator)
    assert connected.htmx_get(CARD, query_string={"email": contact["Email"]}).headers["X-Salesforce-Record"] == "Contact"


def test_a_converted_lead_leads_to_its_contact_in_two_calls(connected, emulator):
    lead = _single_lead(emulator, converted=True)
    contact = _org(emulator).get("Contact", lead["ConvertedContactId"])
    before = _calls(emulator)
    response = connected.htmx_get(CARD, query_string={"email": lead["Email"]})
    body = response.get_data(as_text=True)
    assert response.headers["X-Salesforce-Card"] == "shown"
    assert response.headers["X-Salesforce-Record"] == "Contact"
    assert _calls(emulator) - before == 2
    assert f'href="{emulator.url}/lightning/r/Contact/{contact["Id"]}/view"' in body
    assert "Converted from a lead" in body and "badge-lead" not in body
    if contact.get("AccountId"):
        assert _org(emulator).get("Account", contact["AccountId"])["Name"].replace("'", "&#39;") in body


def test_several_leads_share_an_email_and_the_agents_choice_is_remembered(connected, emulator, make_user, app, db):
    store = _org(emulator)
    contacts = _by_email(_live(store, "Contact"))
    email, leads = next((e, [x for x in ls if not x["IsConverted"]]) for e, ls in _by_email(_live(store, "Lead")).items()
                        if e not in contacts and len([x for x in ls if not x["IsConverted"]]) > 1)
    body = connected.htmx_get(CARD, query_string={"email": email}).get_data(as_text=True)
    assert f"{len(leads) - 1} other Salesforce lead" in body and "the most recently modified" in body
    assert "Which one is this person?" in body
    shown = max(leads, key=lambda r: (r["LastModifiedDate"], ))
    other = next(x for x in leads if x["Id"] != shown["Id"])
    member_id, _ = make_user("agent2@acme.test", role="member")
    agent = type(connected)(app)
    agent.login("agent2@acme.test", "correct-horse-battery")
    chosen = agent.post(f"{CARD}/choose", {"email": email.upper(), "sobject": "Lead", "sf_id": other["Id"]}, htmx=True)
    assert chosen.status_code == 200 and chosen.headers["X-Salesforce-Record"] == "Lead"
    assert f"/lightning/r/Lead/{other['Id']}/view" in chosen.get_data(as_text=True).split("sf-foot")[1]
    assert "the one an agent chose" in chosen.get_data(as_text=True)
    with db() as s:
        row = s.execute(_select(SalesforceChoice)).scalar_one()
        assert (row.email_normalized, row.sobject, row.sf_id, row.chosen_by_id) == (email, "Lead", other["Id"], member_id)
    # Remembered for the workspace: another user, after the cache is gone, sees the same one.
    card_cache.invalidate(connected.app.extensions["cache"], 1, [email])
    again = connected.htmx_get(CARD, query_string={"email": email}).get_data(as_text=True)
    assert f"/lightning/r/Lead/{other['Id']}/view" in again.split("sf-foot")[1]


def test_a_chosen_contact_is_the_inbox_contact_the_sync_keeps_up_to_date(connected, emulator, db):
    store = _org(emulator)
    email, people = next((e, p) for e, p in _by_email(_live(store, "Contact")).items() if len(p) > 1)
    _run_sync(connected.app)
    with db() as s:
        inbox = s.execute(_select(InboxContact).where(InboxContact.email_normalized == email)).scalar_one()
        assert inbox.salesforce_id is None and inbox.salesforce_matches == len(people)
    page = connected.get("/settings/integrations/salesforce?tab=activity").get_data(as_text=True)
    assert "Addresses shared by several Salesforce contacts" in page and email in page
    pick = min(people, key=lambda c: c["LastModifiedDate"])  # not the one shown by default
    response = connected.post(f"{CARD}/choose", {"email": email, "sobject": "Contact", "sf_id": pick["Id"]}, htmx=True)
    assert response.status_code == 200
    with db() as s:
        inbox = s.execute(_select(InboxContact).where(InboxContact.email_normalized == email)).scalar_one()
        assert inbox.salesforce_id == pick["Id"] and inbox.name == pick["Name"]
    assert email not in connected.get("/settings/integrations/salesforce?tab=activity").get_data(as_text=True)
    # The next sync keeps it linked to the chosen contact, even after that contact changes.
    from webapp.integrations.salesforce_connection import client_for

    client_for(get_engine(connected.app), connected.app.extensions["vault"], 1).update("Contact", pick["Id"], {"Title": "Chosen Title"})
    _run_sync(connected.app)
    with db() as s:
        inbox = s.execute(_select(InboxContact).where(InboxContact.email_normalized == email)).scalar_one()
        assert inbox.salesforce_id == pick["Id"] and inbox.title == "Chosen Title"


@pytest.mark.parametrize("form", [
    {"sobject": "Account"},
    {"sf_id": "003' OR Id != '"},
    {"sf_id": "003000000000000ZZZ"},  # well formed, but not one of the matches
])
def test_a_choice_outside_the_matches_is_refused(connected, emulator, db, form):
    store = _org(emulator)
    email, people = next((e, p) for e, p in _by_email(_live(store, "Contact")).items() if len(p) > 1)
    data = {"email": email, "sobject": "Contact", "sf_id": people[0]["Id"], **form}
    response = connected.post(f"{CARD}/choose", data, htmx=True)
    assert response.status_code == 400 and 'role="alert"' in response.get_data(as_text=True)
    with db() as s:
        assert s.execute(_select(SalesforceChoice)).first() is None


def _new_form(client, email, kind):
    response = client.htmx_get(f"{CARD}/new", query_string={"email": email, "kind": kind})
    assert response.status_code == 200, response.get_data(as_text=True)
    return response.get_data(as_text=True)


def test_create_contact_shows_salesforces_validation_then_the_new_record_once(connected, emulator, db):
    store = _org(emulator)
    account = next(a for a in _live(store, "Account") if (a.get("Website") or "").startswith("https://www."))
    domain = account["Website"][len("https://www."):]
    email = f"new.person@{domain}"
    with db() as s:
        s.add(InboxContact(workspace_id=1, name="Nora Newman", email=email, email_normalized=email, title="Buyer"))
    assert connected.htmx_get(CARD, query_string={"email": email}).headers["X-Salesforce-Card"] == "no-match"
    form = _new_form(connected, email, "contact")
    assert 'value="Nora"' in form and 'value="Newman"' in form and 'value="Buyer"' in form
    first_option = form.split("<optgroup")[1]
    assert f"Website matches {domain}" in first_option and f'value="{account["Id"]}" selected' in first_option
    data = {"kind": "contact", "email": email, "key": _key(form), "first_name": "Nora", "last_name": "",
            "title": "Buyer", "account_id": account["Id"]}
    refused = connected.post(CREATE, data, htmx=True)
    body = refused.get_data(as_text=True)
    assert refused.status_code == 422 and refused.headers["HX-Retarget"] == "#sf-create"
    assert 'id="sf-last_name-error">Required fields are missing: [LastName]' in body
    assert not [c for c in _live(store, "Contact") if (c.get("Email") or "").lower() == email]
    data.update(key=_key(body), last_name="Newman")
    posts = emulator.app.emulator.calls.snapshot()
    created = connected.post(CREATE, data, htmx=True)
    assert created.status_code == 200
    assert created.headers["X-Salesforce-Card"] == "shown" and created.headers["X-Salesforce-Record"] == "Contact"
    made = [c for c in _live(store, "Contact") if (c.get("Email") or "").lower() == email]
    assert len(made) == 1 and made[0]["AccountId"] == account["Id"]
    assert f"/lightning/r/Contact/{made[0]['Id']}/view" in created.get_data(as_text=True)
    # A double click sends the same form again: no second POST, the same record.
    again = connected.post(CREATE, data, htmx=True)
    assert again.status_code == 200 and again.headers["X-Salesforce-Record"] == "Contact"
    assert len([c for c in _live(store, "Contact") if (c.get("Email") or "").lower() == email]) == 1
    creates = {k: v for k, v in emulator.app.emulator.calls.snapshot().items() if "create" in k or "insert" in k}
    assert sum(creates.values()) - sum(v for k, v in posts.items() if k in creates) == 1
    with db() as s:
        rows = s.execute(_select(SalesforceCreate.state, SalesforceCreate.sf_id, SalesforceCreate.created_by_id)).all()
        assert sorted(r[0] for r in rows) == ["created", "refused"]
        assert ("created", made[0]["Id"], 1) in rows


def test_create_lead_prefills_the_company_from_the_domain_and_is_shown_as_a_lead(connected, emulator):
    email = "ada@blue-harbor-tools.co.uk"
    form = _new_form(connected, email, "lead")
    assert 'name="company" value="Blue Harbor Tools"' in form
    data = {"kind": "lead", "email": email, "key": _key(form), "first_name": "Ada", "last_name": "Lovelace",
            "title": "", "company": "Blue Harbor Tools"}
    created = connected.post(CREATE, data, htmx=True)
    assert created.headers["X-Salesforce-Record"] == "Lead" and "Blue Harbor Tools" in created.get_data(as_text=True)
    assert "gmail" not in _new_form(connected, "someone@gmail.com", "lead").split('name="company"')[1][:40].lower()


def test_an_unconfirmed_create_is_looked_up_before_another_is_sent(connected, emulator):
    email = "unsure@nowhere-in-particular.test"
    form = _new_form(connected, email, "lead")
    data = {"kind": "lead", "email": email, "key": _key(form), "last_name": "Unsure", "company": "Nowhere"}
    emulator.app.emulator.set_faults(after_commit_502=1)
    unclear = connected.post(CREATE, data, htmx=True)
    body = unclear.get_data(as_text=True)
    assert unclear.status_code == 422 and "Salesforce did not confirm; check before trying again." in body
    store = _org(emulator)
    assert len([x for x in _live(store, "Lead") if (x.get("Email") or "").lower() == email]) == 1  # it was made
    retry = connected.post(CREATE, {**data, "key": _key(body)}, htmx=True)
    assert retry.status_code == 200 and retry.headers["X-Salesforce-Record"] == "Lead"
    assert "Salesforce had made it" in retry.get_data(as_text=True)
    assert len([x for x in _live(store, "Lead") if (x.get("Email") or "").lower() == email]) == 1


@pytest.mark.parametrize("token", ["", "forged", None])
def test_a_create_without_a_valid_form_key_is_refused(connected, emulator, token):
    email = "keyless@nowhere.test"
    if token is None:  # a key issued for another address
        token = _key(_new_form(connected, "other@nowhere.test", "lead"))
    response = connected.post(CREATE, {"kind": "lead", "email": email, "key": token, "last_name": "X", "company": "Y"}, htmx=True)
    assert response.status_code == 400 and 'role="alert"' in response.get_data(as_text=True)
    assert not [x for x in _live(_org(emulator), "Lead") if (x.get("Email") or "").lower() == email]


def test_hostile_names_are_inert_and_account_searches_are_soql_escaped(connected, emulator):
    email = "mallory@evil-corp.test"
    form = _new_form(connected, email, "lead")
    script = "<script>alert('x')</script>"
    data = {"kind": "lead", "email": email, "key": _key(form), "first_name": script, "last_name": '"><img src=x onerror=alert(1)>',
            "company": script}
    body = connected.post(CREATE, data, htmx=True).get_data(as_text=True)
    assert "<script>alert" not in body and "<img src=x" not in body and "&lt;script&gt;" in body
    # A search with quotes and wildcards matches them literally; the query stays well formed.
    store = _org(emulator)
    for q in ("' OR Name != '", "%", "_", "\\"):
        response = connected.htmx_get(f"{CARD}/accounts", query_string={"email": email, "q": q})
        assert response.status_code == 200
        page = response.get_data(as_text=True)
        assert "could not list accounts" not in page
        literal = [a for a in _live(store, "Account") if q.lower() in a["Name"].lower()]
        assert page.count("<option value=\"001") == min(len(literal), 10)
    assert soql.contains("50%_o'k") == "'%50\\%\\_o\\'k%'"


# -- more opportunities than shown, close dates, the data's age, members' line -----------------

def _contact_with_many_opportunities(emulator, count=8):
    """A contact whose account has ``count`` opportunities or more, topped up over the org's
    REST API as a Salesforce user would."""
    from tests.salesforce.sync.twoway_helpers import api

    contact, opps = _contact_with_opportunities(emulator)
    for n in range(len(opps), count):
        api(emulator, "POST", "sobjects/Opportunity", json={
            "Name": f"Extra deal {n}", "StageName": "Prospecting", "CloseDate": f"2027-0{1 + n % 9}-15",
            "AccountId": contact["AccountId"]})
    store = _org(emulator)
    return contact, [o for o in store.tables["Opportunity"].records
                     if o["AccountId"] == contact["AccountId"] and not o["IsDeleted"]]


def test_more_opportunities_than_shown_link_to_the_accounts_list_with_close_dates(connected, emulator):
    contact, opps = _contact_with_many_opportunities(emulator)
    url = f"{CARD}?email={contact['Email']}"
    before = _calls(emulator)
    body = connected.htmx_get(url).get_data(as_text=True)
    assert _calls(emulator) - before == 2  # "more" is known within the same two calls
    link = f"{emulator.url}/lightning/r/Account/{contact['AccountId']}/related/Opportunities/view"
    assert f'href="{link}"' in body and "More in Salesforce" in body  # not synced yet: no count
    assert body.count('class="muted small opp-close"') == 5
    shown = [o for o in opps if o["Name"].replace("'", "&#39;") in body]
    first = shown[0]
    day = first["CloseDate"]
    assert f'datetime="{day.isoformat()}">{day.strftime("%d %b %Y").lstrip("0")}</time>' in body
    _run_sync(connected.app)  # the synced copy counts them
    card_cache.invalidate(connected.app.extensions["cache"], 1, [contact["Email"]])
    before = _calls(emulator)
    body = connected.htmx_get(url).get_data(as_text=True)
    assert _calls(emulator) - before == 2
    assert f"+{len(opps) - 5} more in Salesforce" in body and f'href="{link}"' in body


def test_an_account_with_five_or_fewer_has_no_more_link(connected, emulator):
    store = _org(emulator)
    opps = store.tables["Opportunity"].records
    contact, mine = next(
        (c, [o for o in opps if o["AccountId"] == c.get("AccountId") and not o["IsDeleted"]])
        for c in store.tables["Contact"].records
        if c.get("Email") and c.get("AccountId") and not c["IsDeleted"]
        and 1 <= len([o for o in opps if o["AccountId"] == c["AccountId"] and not o["IsDeleted"]]) <= 5
        and len([x for x in store.tables["Contact"].records if (x.get("Email") or "").lower() == c["Email"].lower()]) == 1)
    body = connected.htmx_get(f"{CARD}?email={contact['Email']}").get_data(as_text=True)
    assert body.count('class="opportunity"') == len(mine)
    assert "sf-more-opportunities" not in body


def test_a_cached_card_says_how_old_its_data_is_in_words(connected, emulator):
    from datetime import UTC, datetime, timedelta

    contact, _ = _contact_with_opportunities(emulator)
    url = f"{CARD}?email={contact['Email']}"
    assert "From Salesforce just now" in connected.htmx_get(url).get_data(as_text=True)
    cache = connected.app.extensions["cache"]
    key = card_cache.card_key(1, contact["Email"].lower())
    entry = cache.get(key)
    entry["card"]["fetched_at"] = (datetime.now(UTC) - timedelta(minutes=4, seconds=5)).isoformat()
    cache.set(key, entry)
    body = connected.htmx_get(url).get_data(as_text=True)
    assert "As of 4 minutes ago: a copy kept up to 5 minutes; ↻ asks Salesforce again" in body


def test_members_get_a_quiet_line_when_salesforce_is_broken(connected, emulator, make_user, app):
    contact, _ = _contact_with_opportunities(emulator)
    make_user("m@acme.test", role="member")
    member = type(connected)(app)
    member.login("m@acme.test", "correct-horse-battery")
    emulator.app.emulator.set_faults(unavailable=10)
    down = member.htmx_get(f"{CARD}?email={contact['Email']}")
    assert down.headers["X-Salesforce-Card"] == "unavailable"
    text = down.get_data(as_text=True)
    assert "Salesforce is unavailable just now; try again later." in text and " hidden" not in text
    emulator.app.emulator.set_faults(unavailable=0)
    emulator.app.emulator.revoke_refresh_tokens()
    emulator.app.emulator.expire_sessions()
    gone = member.htmx_get(f"{CARD}?email=someone@else.test")
    assert gone.headers["X-Salesforce-Card"] == "reconnect"
    text = gone.get_data(as_text=True)
    assert "ask an admin to reconnect it" in text and "/settings/" not in text  # no link they cannot use


def test_a_cached_card_asks_the_database_only_for_the_session(connected, emulator, app):
    """A hit is the request every open conversation makes: the sign-in session is checked (one
    query); the connection state, the admin's banner and the last logged date come from the cache."""
    from sqlalchemy import event

    contact, _ = _contact_with_opportunities(emulator)
    url = f"{CARD}?email={contact['Email']}"
    assert connected.htmx_get(url).headers["X-Salesforce-Card"] == "shown"
    assert connected.htmx_get(url).headers["X-Salesforce-Card"] == "shown"  # the date is cached now
    statements: list[str] = []
    engine = get_engine(app)
    listener = lambda *args: statements.append(args[2])  # noqa: E731
    event.listen(engine, "before_cursor_execute", listener)
    try:
        before = _calls(emulator)
        response = connected.htmx_get(url)
    finally:
        event.remove(engine, "before_cursor_execute", listener)
    assert response.headers["X-Salesforce-Card"] == "shown" and _calls(emulator) == before
    assert len(statements) == 1 and "user_session" in statements[0], statements


def test_the_reconnect_banner_follows_the_connection_at_once(connected, emulator, app):
    """The banner's state is cached, and whatever marks the connection forgets it: a sync's
    client that finds the refresh token revoked, then reconnecting."""
    from webapp.integrations import salesforce_connection as connection
    from webapp.salesforce.errors import ReconnectNeeded

    assert 'id="salesforce-banner"' not in connected.get("/inbox").get_data(as_text=True)  # cached: connected
    emulator.app.emulator.revoke_refresh_tokens()
    emulator.app.emulator.expire_sessions()
    client = connection.client_for(get_engine(app), app.extensions["vault"], 1, describe_cache=app.extensions["cache"])
    with pytest.raises(ReconnectNeeded):
        client.count("SELECT COUNT() FROM Account")
    assert 'id="salesforce-banner"' in connected.get("/inbox").get_data(as_text=True)
    assert connected.htmx_get(f"{CARD}?email=someone@example.com").headers["X-Salesforce-Card"] == "reconnect"
    connect_with_oauth(connected, emulator)
    assert 'id="salesforce-banner"' not in connected.get("/inbox").get_data(as_text=True)


def test_partials_do_not_look_up_the_banner(connected, app, monkeypatch):
    from webapp.integrations import salesforce_connection as connection

    asked: list[int] = []
    real = connection.cached_state
    monkeypatch.setattr(connection, "cached_state", lambda engine, cache, ws: asked.append(ws) or real(engine, cache, ws))
    connected.htmx_get(f"{CARD}?email=")  # no email: the card needs no state either
    assert asked == []
    connected.get("/inbox")
    assert asked == [1]
