"""The SOQL parser and evaluator, below HTTP."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest

from webapp.emulator.org import generate_org
from webapp.emulator.query import compile_query, run
from webapp.emulator.schema import build_schema
from webapp.emulator.soql import SoqlError, parse
from webapp.emulator.store import Store


@pytest.fixture(scope="module")
def store():
    data = generate_org(7, accounts=20, contacts=80, opportunities=40)
    return Store(build_schema(), data, data["User"][0]["Id"])


def rows(store, text, include_deleted=False):
    bound = compile_query(text, store)
    result = run(bound, include_deleted)[bound.offset:]
    return result if bound.limit is None else result[:bound.limit]


def error(store, text) -> SoqlError:
    with pytest.raises(SoqlError) as info:
        rows(store, text)
    return info.value


def add_contact(store, **values):
    return store.create(store.tables["Contact"], {"LastName": "Probe", **values})


def test_parse_tree_keeps_order_and_clauses():
    query = parse("select Id, Account.Name from Contact where Email != null "
                  "order by LastName desc nulls first, Id limit 5 offset 10")
    assert [p.text for p in query.fields] == ["Id", "Account.Name"]
    assert query.sobject == "Contact" and query.limit == 5 and query.offset == 10
    assert query.order_by[0].descending and query.order_by[0].nulls_first is True
    assert query.order_by[1].effective_nulls_first is True  # ascending default


@pytest.mark.parametrize("op, expected", [
    ("=", lambda a, b: a == b), ("!=", lambda a, b: a != b), ("<", lambda a, b: a < b),
    ("<=", lambda a, b: a <= b), (">", lambda a, b: a > b), (">=", lambda a, b: a >= b)])
def test_each_comparison_operator_on_numbers(store, op, expected):
    opps = [o for o in store.tables["Opportunity"].records if not o["IsDeleted"]]
    pivot = sorted(o["Amount"] for o in opps)[len(opps) // 2]
    found = {r["Id"] for r in rows(store, f"SELECT Id FROM Opportunity WHERE Amount {op} {pivot}")}
    assert found == {o["Id"] for o in opps if expected(o["Amount"], pivot)}


def test_string_equality_is_case_insensitive(store):
    contact = add_contact(store, Email="Mixed.Case@Example.com")
    found = rows(store, "SELECT Id FROM Contact WHERE Email = 'mixed.case@EXAMPLE.COM'")
    assert [r["Id"] for r in found] == [contact["Id"]]


def test_in_not_in_and_or_not_and_parentheses(store):
    a = add_contact(store, FirstName="Ina", LeadSource="Web")
    b = add_contact(store, FirstName="Inb", LeadSource="Other")
    found = rows(store, "SELECT Id FROM Contact WHERE LastName = 'Probe' AND "
                        "(FirstName IN ('ina', 'INB') OR FirstName = 'zzz') AND NOT LeadSource = 'Web'")
    assert [r["Id"] for r in found] == [b["Id"]]
    found = rows(store, "SELECT Id FROM Contact WHERE FirstName NOT IN ('Ina') AND FirstName LIKE 'In_'")
    assert [r["Id"] for r in found] == [b["Id"]]
    assert a["Id"] in {r["Id"] for r in rows(store, "SELECT Id FROM Contact WHERE FirstName = 'Ina' OR FirstName = 'x'")}


def test_and_mixed_with_or_needs_parentheses(store):
    # SOQL has no AND/OR precedence: "WHERE a AND b OR c" is refused; parentheses say the order
    # (SOQL and SOSL Reference, "Condition Expression Syntax (WHERE Clause)").
    c = add_contact(store, FirstName="Prec", Title="A")
    for text in ("SELECT Id FROM Contact WHERE FirstName = 'nobody' AND Title = 'A' OR FirstName = 'Prec'",
                 "SELECT Id FROM Contact WHERE FirstName = 'Prec' OR Title = 'A' AND FirstName = 'nobody'"):
        err = error(store, text)
        assert err.error_code == "MALFORMED_QUERY" and "unexpected token" in err.message
    found = rows(store, "SELECT Id FROM Contact WHERE (FirstName = 'nobody' AND Title = 'A') OR FirstName = 'Prec'")
    assert c["Id"] in {r["Id"] for r in found}
    found = rows(store, "SELECT Id FROM Contact WHERE FirstName = 'Prec' AND (Title = 'B' OR Title = 'A') AND Title = 'A'")
    assert [r["Id"] for r in found] == [c["Id"]]


def test_boolean_compared_with_null_is_false(store):
    # SOQL and SOSL Reference, "Use null in WHERE": on a boolean field null matches FALSE;
    # `= null` is `= false` and `!= null` is `= true`.
    live = [r for r in store.tables["Opportunity"].records if not r["IsDeleted"]]
    lost_or_open = {r["Id"] for r in live if not r["IsWon"]}
    assert {r["Id"] for r in rows(store, "SELECT Id FROM Opportunity WHERE IsWon = null")} == lost_or_open
    assert {r["Id"] for r in rows(store, "SELECT Id FROM Opportunity WHERE IsWon != null")} == {
        r["Id"] for r in live if r["IsWon"]}


def test_offset_without_colon_is_refused(store):
    # dateTime literals take Z, +hh:mm or -hh:mm (SOQL and SOSL Reference, "Date Formats and
    # Date Literals"); +0500 is a syntax error at the sign.
    err = error(store, "SELECT Id FROM Contact WHERE SystemModstamp > 2020-01-01T00:00:00+0500")
    assert err.error_code == "MALFORMED_QUERY" and "no viable alternative at character '+'" in err.message
    assert rows(store, "SELECT Id FROM Contact WHERE SystemModstamp > 2020-01-01T00:00:00+05:00")
    assert rows(store, "SELECT Id FROM Contact WHERE SystemModstamp > 2020-01-01T00:00:00-05:00")


def test_null_and_boolean_literals(store):
    no_account = rows(store, "SELECT Id, AccountId FROM Contact WHERE AccountId = null")
    assert no_account and all(r["AccountId"] is None for r in no_account)
    won = rows(store, "SELECT Id, IsWon, StageName FROM Opportunity WHERE IsWon = TRUE")
    assert won and {r["StageName"] for r in won} == {"Closed Won"}


def test_not_equal_matches_nulls_like_soql(store):
    titles = rows(store, "SELECT Id, Title FROM Contact WHERE Title != 'CEO'")
    assert any(r["Title"] is None for r in titles)


def test_escapes_in_string_literals(store):
    apostrophe = add_contact(store, Email="o'brien@example.com")
    backslash = add_contact(store, Title="back\\slash")
    accented = add_contact(store, FirstName="Ren\u00e9e")
    assert [r["Id"] for r in rows(store, r"SELECT Id FROM Contact WHERE Email = 'o\'brien@example.com'")] == [apostrophe["Id"]]
    assert [r["Id"] for r in rows(store, r"SELECT Id FROM Contact WHERE Title = 'back\\slash'")] == [backslash["Id"]]
    assert accented["Id"] in [r["Id"] for r in rows(store, r"SELECT Id FROM Contact WHERE FirstName = 'Ren\u00e9e'")]
    tab = parse(r"SELECT Id FROM Contact WHERE Title = 'a\tb\N\"'").where.value.value
    assert tab == 'a\tb\n"'


def test_invalid_backslash_is_malformed_query(store):
    err = error(store, r"SELECT Id FROM Contact WHERE Name = 'a\qb'")
    assert err.error_code == "MALFORMED_QUERY"
    assert "ERROR at Row:1:Column:37" in err.message
    # \% and \_ are only valid inside LIKE
    assert error(store, r"SELECT Id FROM Contact WHERE Name = '100\%'").error_code == "MALFORMED_QUERY"


def test_like_wildcards_and_escaped_wildcards(store):
    plus = add_contact(store, Email="pat+news@example.com")
    pct = add_contact(store, Title="100% sure")
    underscore = add_contact(store, Title="a_b")
    assert plus["Id"] in [r["Id"] for r in rows(store, "SELECT Id FROM Contact WHERE Email LIKE '%+news@%'")]
    assert [r["Id"] for r in rows(store, r"SELECT Id FROM Contact WHERE Title LIKE '100\%%'")] == [pct["Id"]]
    assert [r["Id"] for r in rows(store, r"SELECT Id FROM Contact WHERE Title LIKE 'a\_b'")] == [underscore["Id"]]
    assert underscore["Id"] in [r["Id"] for r in rows(store, "SELECT Id FROM Contact WHERE Title LIKE 'A_B'")]


def test_date_and_datetime_literals(store):
    opps = [o for o in store.tables["Opportunity"].records if not o["IsDeleted"]]
    cutoff = sorted(o["CloseDate"] for o in opps)[len(opps) // 2]
    found = rows(store, f"SELECT Id FROM Opportunity WHERE CloseDate >= {cutoff.isoformat()}")
    assert len(found) == sum(o["CloseDate"] >= cutoff for o in opps)
    stamp = datetime(2025, 6, 1, tzinfo=UTC)
    contacts = [c for c in store.tables["Contact"].records if not c["IsDeleted"]]
    for literal in ("2025-06-01T00:00:00Z", "2025-06-01T02:00:00.000+02:00", "2025-05-31T19:00:00-05:00"):
        found = rows(store, f"SELECT Id FROM Contact WHERE SystemModstamp < {literal}")
        assert len(found) == sum(c["SystemModstamp"] < stamp for c in contacts)
    assert rows(store, "SELECT Id FROM Contact WHERE CreatedDate = LAST_N_DAYS:5000")
    err = error(store, "SELECT Id FROM Contact WHERE CreatedDate > 2024-01-01")
    assert err.error_code == "INVALID_FIELD" and "must be of type dateTime" in err.message
    assert error(store, "SELECT Id FROM Opportunity WHERE CloseDate = '2024-01-01'").error_code == "INVALID_FIELD"


def test_order_by_nulls_first_and_last(store):
    first = rows(store, "SELECT Id, Title FROM Contact ORDER BY Title ASC NULLS FIRST")
    last = rows(store, "SELECT Id, Title FROM Contact ORDER BY Title ASC NULLS LAST")
    desc = rows(store, "SELECT Id, Title FROM Contact ORDER BY Title DESC")
    assert first[0]["Title"] is None and last[-1]["Title"] is None and desc[-1]["Title"] is None
    titles = [r["Title"].lower() for r in last if r["Title"] is not None]
    assert titles == sorted(titles)


def test_limit_offset_and_count(store):
    ordered = [r["Id"] for r in rows(store, "SELECT Id FROM Contact ORDER BY Id")]
    page = [r["Id"] for r in rows(store, "SELECT Id FROM Contact ORDER BY Id LIMIT 5 OFFSET 3")]
    assert page == ordered[3:8]
    bound = compile_query("SELECT COUNT() FROM Contact", store)
    assert bound.count_only and len(run(bound, False)) == len(ordered)
    assert len(run(bound, True)) > len(ordered)  # queryAll sees the deleted rows
    assert error(store, "SELECT Id FROM Contact OFFSET 2001").error_code == "NUMBER_OUTSIDE_VALID_RANGE"


def test_parent_relationship_paths(store):
    found = rows(store, "SELECT Id, Account.Name, Account.Owner.Name FROM Contact WHERE Account.Name != null LIMIT 3")
    assert len(found) == 3
    opp = rows(store, "SELECT Id FROM OpportunityHistory WHERE Opportunity.IsWon = true")
    assert opp


def test_errors_name_the_problem(store):
    err = error(store, "SELECT Id FRM Contact")
    assert (err.error_code, err.message) == (
        "MALFORMED_QUERY", "\nSELECT Id FRM Contact\n          ^\nERROR at Row:1:Column:11\nunexpected token: 'FRM'")
    err = error(store, "SELECT Foo FROM Contact")
    assert err.error_code == "INVALID_FIELD" and "No such column 'Foo' on entity 'Contact'" in err.message
    err = error(store, "SELECT Id FROM Nope")
    assert err.error_code == "INVALID_TYPE" and "sObject type 'Nope' is not supported" in err.message
    err = error(store, "SELECT Id, Acount.Name FROM Contact")
    assert err.error_code == "INVALID_FIELD" and "Didn't understand relationship 'Acount'" in err.message
    assert error(store, "SELECT Id FROM Contact WHERE Id = 'nope'").error_code == "INVALID_QUERY_FILTER_OPERATOR"
    assert error(store, 'SELECT Id FROM Contact WHERE Name = "x"').error_code == "MALFORMED_QUERY"
    assert error(store, "SELECT Id FROM Contact WHERE").message.endswith("unexpected token: '<EOF>'")
    assert error(store, "SELECT Id FROM Contact WHERE Name = 'open").error_code == "MALFORMED_QUERY"
    assert error(store, "SELECT Id FROM Contact WHERE Description = 'x'").error_code == "INVALID_FIELD"
    assert error(store, "SELECT CurrencyIsoCode FROM Opportunity").error_code == "INVALID_FIELD"


def test_keywords_and_names_are_case_insensitive(store):
    found = rows(store, "sElEcT id, lastname, account.name FrOm contact wHeRe lastname != null LiMiT 1")
    assert len(found) == 1


def test_ids_match_in_15_and_18_character_forms(store):
    contact = store.tables["Contact"].records[0]
    for literal in (contact["Id"], contact["Id"][:15]):
        assert [r["Id"] for r in rows(store, f"SELECT Id FROM Contact WHERE Id = '{literal}'")] == [contact["Id"]]


def test_dates_are_dates(store):
    opp = rows(store, "SELECT Id, CloseDate FROM Opportunity LIMIT 1")[0]
    assert isinstance(opp["CloseDate"], date)
