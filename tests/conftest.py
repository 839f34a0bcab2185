"""Shared fixtures: a fresh, migrated database per test on SQLite or, when TEST_DATABASE_URL
points at one, on PostgreSQL; the real app; a client that speaks CSRF like a browser."""

from __future__ import annotations

import os
import re
import shutil
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from webapp import create_app, migrations
from webapp.db import get_engine, make_engine, session_scope

POSTGRES_URL = os.environ.get("TEST_DATABASE_URL", "")
ARTIFACTS = Path(__file__).resolve().parent.parent / "artifacts"
TOKEN_RE = re.compile(r'"X-CSRFToken": "([^"]+)"|name="csrf_token"[^>]*value="([^"]+)"')


def _worker() -> str:
    return os.environ.get("PYTEST_XDIST_WORKER", "main")


@pytest.fixture(scope="session")
def database_template(tmp_path_factory) -> str:
    """A migrated database made once per test process; each test gets a fresh copy of it."""
    if POSTGRES_URL:
        url = make_url(POSTGRES_URL)
        # One database per test process, so parallel runs on one server never collide.
        name = f"inbox_test_{_worker()}_{os.getpid()}"
        admin = create_engine(url, isolation_level="AUTOCOMMIT")
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
            conn.execute(text(f'CREATE DATABASE "{name}"'))
        worker_url = url.set(database=name).render_as_string(hide_password=False)
        engine = make_engine(worker_url)
        migrations.upgrade(engine)
        engine.dispose()
        yield worker_url
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()
        return
    path = tmp_path_factory.mktemp("db-template") / "template.sqlite3"
    engine = make_engine(f"sqlite:///{path}")
    migrations.upgrade(engine)
    with engine.connect() as conn:
        conn.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")
    engine.dispose()
    yield str(path)


@pytest.fixture
def database_url(database_template, tmp_path) -> Iterator[str]:
    if POSTGRES_URL:
        engine = create_engine(database_template)
        with engine.begin() as conn:
            tables = conn.execute(
                text(
                    "SELECT tablename FROM pg_tables WHERE schemaname = 'public' "
                    "AND tablename <> 'alembic_version'"
                )
            ).scalars().all()
            if tables:
                joined = ", ".join(f'"{t}"' for t in tables)
                conn.execute(text(f"TRUNCATE {joined} RESTART IDENTITY CASCADE"))
        engine.dispose()
        yield database_template
    else:
        path = tmp_path / "inbox.sqlite3"
        shutil.copyfile(database_template, path)
        yield f"sqlite:///{path}"


@pytest.fixture
def app_config(database_url, tmp_path) -> dict:
    return {
        "TESTING": True,
        "ENV_NAME": "test",
        "SECRET_KEY": "test-secret-" + uuid.uuid4().hex,
        "DATABASE_URL": database_url,
        "CACHE_URL": "simple://",
        "SCHEDULER_ENABLED": False,
        "INSTANCE_PATH": str(tmp_path / "instance"),
        "LOG_LEVEL": "WARNING",
    }


@pytest.fixture
def app(app_config):
    app = create_app(app_config)
    yield app
    # Card lookups still running in the background finish before their engine goes away.
    app.extensions["salesforce_lookups"].shutdown(wait=True)
    get_engine(app).dispose()


@pytest.fixture
def db(app):
    """A session on the test database, committed when the block ends."""

    def scope():
        return session_scope(get_engine(app))

    return scope


class Client:
    """A test client that sends the CSRF token the way the layout does for htmx."""

    def __init__(self, app):
        self.app = app
        self.http = app.test_client()
        self.token: str | None = None

    def _remember_token(self, response):
        match = TOKEN_RE.search(response.get_data(as_text=True))
        if match:
            self.token = match.group(1) or match.group(2)
        return response

    def get(self, url, **kwargs):
        return self._remember_token(self.http.get(url, **kwargs))

    def post(self, url, data=None, *, csrf=True, htmx=False, headers=None, **kwargs):
        headers = dict(headers or {})
        if csrf:
            if self.token is None:
                self.get("/login")
            headers["X-CSRFToken"] = self.token
        if htmx:
            headers["HX-Request"] = "true"
        return self._remember_token(self.http.post(url, data=data, headers=headers, **kwargs))

    def htmx_get(self, url, **kwargs):
        return self.get(url, headers={"HX-Request": "true"}, **kwargs)

    def login(self, email, password):
        response = self.post("/login", {"email": email, "password": password})
        assert response.status_code == 302, response.get_data(as_text=True)[:500]
        self.get("/inbox")  # a token for the signed-in session
        return response


@pytest.fixture
def client(app) -> Client:
    return Client(app)


@pytest.fixture
def make_user(db):
    """make_user(email, role=…, workspace=…, password=…) -> (user_id, workspace_id)."""
    from webapp.auth.services import create_user, get_or_create_workspace

    def make(email, *, role="member", workspace="Acme", password="correct-horse-battery", name=""):
        with db() as session:
            ws, _ = get_or_create_workspace(session, workspace)
            user = create_user(
                session, email=email, password=password, role=role, workspace=ws, name=name
            )
            return user.id, ws.id

    return make


@pytest.fixture
def admin_client(client, make_user) -> Client:
    make_user("admin@acme.test", role="admin", name="Ada Admin")
    client.login("admin@acme.test", "correct-horse-battery")
    return client


@pytest.fixture
def member_client(client, make_user) -> Client:
    make_user("member@acme.test", role="member", name="Mo Member")
    client.login("member@acme.test", "correct-horse-battery")
    return client
