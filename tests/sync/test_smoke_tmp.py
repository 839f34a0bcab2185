import pytest
from sqlalchemy import text
from tests.sync.conftest import sync
from webapp.db import get_engine

def test_smoke(connected, emulator):
    run_id, outcome = sync(connected)
    print(outcome)
    e = get_engine(connected)
    with e.connect() as c:
        print(c.execute(text("select status, reason, counts, api_calls from sync_run")).all())
        print(c.execute(text("select count(*), sum(salesforce_matches>1) from contact")).all())
    run_id, outcome = sync(connected)
    with e.connect() as c:
        print(c.execute(text("select status, reason, counts, api_calls from sync_run where id=:i"), {"i": run_id}).all())
    assert outcome.status == "succeeded"
