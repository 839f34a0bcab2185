"""A create that may have reached Salesforce is never sent again blindly: the emulator makes the
write and then answers 502, 503 or nothing, as a real org's edge can."""

from __future__ import annotations

import pytest

from tests.salesforce.sync.conftest import FAST, sync
from tests.salesforce.sync.twoway_helpers import add_deal, enable, link, linked_contact, opportunities
from webapp.db import get_engine
from webapp.integrations.salesforce_connection import client_for
from webapp.salesforce.errors import MaybeWritten

def client_for_workspace(app):
    return client_for(get_engine(app), app.extensions["vault"], 1, **FAST)


FAULTS = ["after_commit_502", "after_commit_503", "after_commit_drop"]


@pytest.mark.parametrize("fault", FAULTS)
def test_a_create_without_a_clear_answer_is_not_sent_again(connected, emulator, fault):
    client = client_for_workspace(connected)
    emulator.app.emulator.set_faults(**{fault: 1})
    with pytest.raises(MaybeWritten):
        client.create("Account", {"Name": f"Made once {fault}"})
    made = [a for a in emulator.app.emulator.store.tables["Account"].records if a["Name"] == f"Made once {fault}"]
    assert len(made) == 1


def test_an_update_without_a_clear_answer_is_sent_again(connected, emulator):
    client = client_for_workspace(connected)
    account = emulator.app.emulator.store.tables["Account"].records[0]
    emulator.app.emulator.set_faults(after_commit_502=1)
    client.update("Account", account["Id"], {"Name": "Patched twice is fine"})  # PATCH is idempotent: retried
    assert emulator.app.emulator.store.get("Account", account["Id"])["Name"] == "Patched twice is fine"


@pytest.mark.parametrize("fault", FAULTS)
@pytest.mark.parametrize("external_id", [None, "Inbox_Deal_Id__c"])
def test_n_deals_end_as_exactly_n_opportunities_when_every_write_is_answered_badly(connected, emulator, fault, external_id):
    sync(connected)
    enable(connected, external_id_field=external_id)
    contact = linked_contact(connected)
    names = [f"Unanswered {fault} {i}" for i in range(5)]
    deals = [add_deal(connected, name, contact_id=contact.id) for name in names]
    emulator.app.emulator.set_faults(**{fault: 10_000})
    _, first = sync(connected)
    assert first.status != "succeeded"
    _, second = sync(connected)
    emulator.app.emulator.set_faults(**{fault: 0})
    _, third = sync(connected)
    assert third.status == "succeeded", third.reason
    for name, deal_id in zip(names, deals, strict=True):
        [opp] = opportunities(emulator, name)
        assert link(connected, deal_id).sf_id == opp["Id"]
