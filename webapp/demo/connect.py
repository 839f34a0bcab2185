"""Open the demo connected and synced: the workspace's OAuth setup, Connect, the admin's
approval on the emulator's login page, the code exchange, then the first sync, each through
the same code a person's clicks and the scheduler go through.

Only the approval is done here on the admin's behalf (one POST of the emulator's form with
its demo login); everything after it is the product's own connection and sync code.
"""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import parse_qs, urlsplit

import requests
from cachelib import BaseCache
from sqlalchemy import select
from sqlalchemy.engine import Engine
from sqlmodel import Session

from webapp.crypto import Vault
from webapp.integrations import salesforce_connection as connection
from webapp.integrations.salesforce_card import forget_connection_state
from webapp.models import User
from webapp.salesforce.sync import ledger
from webapp.sync.execution import run_queued

APPROVE_TIMEOUT = 10


class DemoConnectFailed(RuntimeError):
    """The demo could not connect to its emulator; the app still starts, one click from connected."""


@dataclass(frozen=True)
class DemoEmulator:
    url: str
    client_id: str
    client_secret: str
    username: str
    password: str


@dataclass(frozen=True)
class DemoConnection:
    connected_as: str | None
    run_id: int | None
    run_status: str | None
    reason: str | None


def set_up(session: Session, vault: Vault, workspace_id: int, emulator: DemoEmulator) -> bool:
    """Save the OAuth setup for the emulator unless an admin set up another org by hand.
    Returns False when the workspace's connection is someone else's to keep."""
    view = connection.get_view(session, workspace_id)
    if view is not None and view.client_id != emulator.client_id:
        return False
    if view is None or view.login_url != emulator.url or view.mode != "oauth":
        connection.save_setup(session, vault, workspace_id, connection.SetupInput(
            mode="oauth", environment="custom", url=emulator.url,
            client_id=emulator.client_id, client_secret=emulator.client_secret,
        ))
    return True


def _approve(authorize_url: str, emulator: DemoEmulator) -> dict[str, str]:
    """The admin's Allow on the emulator's login page; returns the callback's query."""
    answer = requests.post(authorize_url, data={"username": emulator.username, "password": emulator.password,
                                                "action": "allow"}, allow_redirects=False, timeout=APPROVE_TIMEOUT)
    with answer:
        location = answer.headers.get("Location", "")
    if answer.status_code != 302 or not location:
        raise DemoConnectFailed(f"The emulator did not approve the connection (HTTP {answer.status_code}).")
    return {k: v[0] for k, v in parse_qs(urlsplit(location).query).items()}


def connect_and_sync(engine: Engine, vault: Vault, cache: BaseCache | None, *, workspace_id: int, admin_email: str,
                     emulator: DemoEmulator, redirect_uri: str, secret_key: str) -> DemoConnection | None:
    """Connect the demo workspace to the emulator and run its first sync; None when the
    workspace is connected to another org. A freshly started emulator knows none of the
    tokens saved by an earlier demo, so this connects again at every start."""
    with Session(engine) as session:
        if not set_up(session, vault, workspace_id, emulator):
            return None
        admin_id = session.execute(select(User.id).where(User.email == admin_email)).scalar_one()
        authorize_url = connection.start_connect(session, vault, workspace_id=workspace_id, user_id=admin_id,
                                                 redirect_uri=redirect_uri, secret_key=secret_key)
        session.commit()
    try:
        reply = _approve(authorize_url, emulator)
    except requests.RequestException as exc:
        raise DemoConnectFailed(f"The emulator did not answer ({exc}).") from exc
    with Session(engine) as session:
        try:
            spent = connection.spend_state(session, vault, workspace_id=workspace_id, user_id=admin_id,
                                           secret_key=secret_key, state=reply.get("state", ""))
            session.commit()
            conn = connection.finish_connect(session, vault, spent, workspace_id=workspace_id, user_id=admin_id,
                                             code=reply.get("code"), error=reply.get("error"),
                                             error_description=reply.get("error_description"))
        except connection.ConnectFailed as exc:
            raise DemoConnectFailed(str(exc)) from exc
        connected_as = conn.sf_username
        session.commit()
    if cache is not None:
        forget_connection_state(cache, workspace_id)  # cards cached as "not connected" ask again
    # The first sync, as the scheduler queues it after a connect, run here in the foreground.
    requested = ledger.request_run(engine, workspace_id, "connect")
    outcome = run_queued(engine, vault, cache, requested.run_id)
    return DemoConnection(connected_as, requested.run_id, outcome.status if outcome else None,
                          outcome.reason if outcome else None)
