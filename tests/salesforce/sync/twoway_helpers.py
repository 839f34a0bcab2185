"""Shared steps of the two-way tests: turn it on, make and edit deals as a user would."""

from __future__ import annotations

from datetime import date

import requests
from sqlalchemy import select, text
from sqlmodel import Session

from webapp.clock import utcnow
from webapp.db import get_engine
from webapp.models import Contact, Deal, SyncSettings


def enable(app, workspace_id=1, **values):
    with Session(get_engine(app)) as s:
        row = s.execute(select(SyncSettings).where(SyncSettings.workspace_id == workspace_id)).scalar_one_or_none()
        row = row or SyncSettings(workspace_id=workspace_id, extra_fields={})
        row.two_way = True
        for k, v in values.items():
            setattr(row, k, v)
        s.add(row)
        s.commit()


def linked_contact(app) -> Contact:
    with Session(get_engine(app)) as s:
        return s.execute(select(Contact).where(Contact.salesforce_id.is_not(None)).order_by(Contact.id)).scalars().first()


def add_deal(app, name, *, contact_id=None, stage="Prospecting", amount_minor=500_000, close=date(2026, 12, 1), **kw) -> int:
    with Session(get_engine(app)) as s:
        deal = Deal(workspace_id=1, name=name, stage=stage, amount_minor=amount_minor, currency=kw.pop("currency", "USD"),
                    close_date=close, contact_id=contact_id, **kw)
        s.add(deal)
        s.commit()
        return deal.id


def edit_deal(app, deal_id, **values):
    with Session(get_engine(app)) as s:
        deal = s.get(Deal, deal_id)
        for k, v in values.items():
            setattr(deal, k, v)
        deal.updated_at = utcnow()
        s.commit()


def deal(app, deal_id) -> Deal:
    with Session(get_engine(app)) as s:
        return s.get(Deal, deal_id)


def link(app, deal_id):
    with get_engine(app).connect() as conn:
        return conn.execute(text("SELECT * FROM sync_link WHERE kind = 'deal' AND local_id = :d"), {"d": deal_id}).first()


def opportunities(emulator, name):
    return [r for r in emulator.app.emulator.store.tables["Opportunity"].records if r["Name"] == name and not r["IsDeleted"]]


def api(emulator, method, path, **kw):
    """Change the org through its REST API, as a Salesforce user would."""
    token = requests.post(f"{emulator.url}/services/oauth2/token", data={
        "grant_type": "client_credentials", "client_id": "emulator-client-id",
        "client_secret": "emulator-client-secret"}, timeout=10).json()
    response = requests.request(method, f"{emulator.url}/services/data/v62.0/{path}",
                                headers={"Authorization": f"Bearer {token['access_token']}"}, timeout=10, **kw)
    assert response.status_code < 300, response.text
    return response
