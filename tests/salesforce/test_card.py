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
