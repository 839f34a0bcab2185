"""The seeded org: deterministic, realistic, and with its edge cases in place."""

from __future__ import annotations

from collections import Counter

from webapp.emulator.org import DEMO_ORG, STAGES, generate_org, id_suffix


def test_same_seed_same_org_and_demo_defaults():
    first, second = generate_org(**DEMO_ORG), generate_org(**DEMO_ORG)
    assert DEMO_ORG == dict(seed=42, accounts=60, contacts=300, opportunities=180)
    for name in ("Account", "Contact", "Opportunity"):
        strip = lambda rows: [{k: v for k, v in r.items() if not k.endswith(("Date", "Modstamp"))} for r in rows]
        assert strip(first[name]) == strip(second[name])
    assert [c["Email"] for c in generate_org(43, 60, 300, 180)["Contact"]] != [c["Email"] for c in first["Contact"]]
    assert (len(first["Account"]), len(first["Contact"]), len(first["Opportunity"])) == (60, 300, 180)


def test_ids_have_key_prefixes_and_checksums():
    org = generate_org(**DEMO_ORG)
    for name, prefix in (("Account", "001"), ("Contact", "003"), ("Opportunity", "006"), ("User", "005"),
                         ("Organization", "00D")):
        for record in org[name]:
            assert record["Id"].startswith(prefix) and len(record["Id"]) == 18
            assert id_suffix(record["Id"][:15]) == record["Id"][15:]


def test_accounts_have_domains_owners_and_types():
    org = generate_org(**DEMO_ORG)
    users = {u["Id"] for u in org["User"]}
    assert {a["Type"] for a in org["Account"]} >= {"Enterprise", "Mid-Market", "SMB"}
    for account in org["Account"]:
        assert account["Website"].startswith("https://www.") and account["OwnerId"] in users
    domains = {a["Id"]: a["Website"][len("https://www."):] for a in org["Account"]}
    linked = [c for c in org["Contact"] if c["AccountId"] and c["Email"]]
    on_domain = sum(c["Email"].lower().endswith("@" + domains[c["AccountId"]]) for c in linked)
    assert on_domain / len(linked) > 0.8
    assert any(c["Email"].endswith(("@gmail.com", "@outlook.com")) for c in linked)


def test_edge_cases_are_present():
    contacts = generate_org(**DEMO_ORG)["Contact"]
    emails = [c["Email"] for c in contacts if c["Email"]]
    assert any(c["AccountId"] is None for c in contacts)
    assert any("'" in e for e in emails) and any("+" in e.split("@")[0] for e in emails)
    assert any(n > 1 for n in Counter(e.lower() for e in emails).values())
    assert any(e != e.lower() for e in emails)
    assert any(c["IsDeleted"] for c in contacts)


def test_opportunities_cover_every_stage_and_derive_flags():
    org = generate_org(seed=1, accounts=100, contacts=10, opportunities=1000)
    stages = {s[0]: s for s in STAGES}
    assert {o["StageName"] for o in org["Opportunity"]} == set(stages)
    for opp in org["Opportunity"]:
        _, closed, won, _, _ = stages[opp["StageName"]]
        assert (opp["IsClosed"], opp["IsWon"]) == (closed, won) and opp["Amount"] > 0
    per_account = Counter(o["AccountId"] for o in org["Opportunity"])
    assert per_account.most_common(1)[0][1] >= 30
    history = Counter(h["OpportunityId"] for h in org["OpportunityHistory"])
    assert set(history) == {o["Id"] for o in org["Opportunity"]}
    assert [s["MasterLabel"] for s in org["OpportunityStage"]] == [s[0] for s in STAGES]


def test_multi_currency_fields_only_when_on():
    single, multi = generate_org(1, 3, 3, 3), generate_org(1, 3, 3, 3, multi_currency=True)
    assert "CurrencyIsoCode" not in single["Opportunity"][0] and "CurrencyType" not in single
    assert multi["Opportunity"][0]["CurrencyIsoCode"] and multi["CurrencyType"]
