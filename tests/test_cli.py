"""create-user and seed-demo from the command line."""

from __future__ import annotations

from sqlmodel import select

from webapp.emulator.org import DEMO_ORG, generate_org
from webapp.models import Contact, Conversation, Message, User, Workspace


def test_create_user_creates_the_workspace_and_hashes_the_password(app, db):
    result = app.test_cli_runner().invoke(
        args=["create-user", "Ops@Acme.test", "--role", "admin", "--workspace", "Acme", "--password", "s3cret-pass"]
    )
    assert result.exit_code == 0, result.output
    assert "Created admin ops@acme.test" in result.output and "new workspace" in result.output
    with db() as s:
        user = s.exec(select(User)).one()
        assert (user.email, user.role) == ("ops@acme.test", "admin")
        assert s.exec(select(Workspace.name)).all() == ["Acme"]


def test_create_user_prompts_for_the_password(app, client):
    result = app.test_cli_runner().invoke(
        args=["create-user", "m@acme.test", "--role", "member", "--workspace", "Acme"],
        input="prompted-pass\nprompted-pass\n",
    )
    assert result.exit_code == 0, result.output
    client.login("m@acme.test", "prompted-pass")


def test_create_user_refuses_bad_input_with_non_zero_exit(app, db):
    runner = app.test_cli_runner()
    ok = ["--role", "member", "--workspace", "Acme", "--password", "long-enough"]
    assert runner.invoke(args=["create-user", "dup@acme.test", *ok]).exit_code == 0
    cases = [
        (["create-user", "DUP@acme.test", *ok], "already exists"),
        (["create-user", "not-an-email", *ok], "not a valid email"),
        (["create-user", "x@acme.test", "--role", "owner", "--workspace", "Acme", "--password", "long-enough"], "owner"),
        (["create-user", "y@acme.test", "--role", "member", "--workspace", "Acme", "--password", "short"], "at least 8"),
        (["create-user", "z@acme.test", "--role", "member", "--workspace", " ", "--password", "long-enough"], "workspace name"),
    ]
    for args, message in cases:
        result = runner.invoke(args=args)
        assert result.exit_code != 0, args
        assert message in result.output, result.output
    with db() as s:
        assert s.exec(select(User.email)).all() == ["dup@acme.test"]
        assert s.exec(select(Workspace.name)).all() == ["Acme"]


def test_seed_demo_is_idempotent_and_prints_logins(app, db, client):
    runner = app.test_cli_runner()
    first = runner.invoke(args=["seed-demo"])
    assert first.exit_code == 0, first.output
    assert "admin@northwind.example" in first.output and "password:" in first.output
    with db() as s:
        counts = [len(s.exec(select(m.id)).all()) for m in (Contact, Conversation, Message, User)]
    assert counts[0] >= 200 and counts[1] >= 300 and counts[2] > counts[1]
    second = runner.invoke(args=["seed-demo"])
    assert second.exit_code == 0 and "Already seeded" in second.output
    with db() as s:
        assert [len(s.exec(select(m.id)).all()) for m in (Contact, Conversation, Message, User)] == counts
    client.login("admin@northwind.example", "demo-admin-password")
    assert client.get("/settings/integrations").status_code == 200


def test_demo_data_spans_months_with_both_directions_and_overlaps_the_emulator_org(app, db):
    assert app.test_cli_runner().invoke(args=["seed-demo"]).exit_code == 0
    org_emails = {c["Email"].lower() for c in generate_org(**DEMO_ORG)["Contact"] if c.get("Email")}
    with db() as s:
        emails = {e for e in s.exec(select(Contact.email_normalized)).all()}
        sent = s.exec(select(Message.sent_at)).all()
        directions = set(s.exec(select(Message.direction)).all())
        replies = s.exec(select(Message).where(Message.in_reply_to.is_not(None))).all()
    assert len(emails & org_emails) >= 150
    assert len(emails - org_emails) >= 30
    assert (max(sent) - min(sent)).days >= 180
    assert directions == {"in", "out"}
    assert replies


def test_demo_has_conversations_with_open_leads_of_the_emulator_org(app, db):
    assert app.test_cli_runner().invoke(args=["seed-demo"]).exit_code == 0
    org = generate_org(**DEMO_ORG)
    open_leads = {r["Email"].lower() for r in org["Lead"] if r["Email"] and not r["IsConverted"] and not r["IsDeleted"]}
    with db() as s:
        rows = s.exec(select(Contact.email_normalized, Conversation.id).join(
            Conversation, Conversation.contact_id == Contact.id)).all()
    with_threads = {email for email, _ in rows if email in open_leads}
    assert len(with_threads) >= 10
    assert not with_threads & {c["Email"].lower() for c in org["Contact"] if c.get("Email")}


def test_demo_is_deterministic_for_a_seed(tmp_path, app_config):
    from datetime import UTC, datetime

    from webapp import create_app, migrations
    from webapp.db import get_engine, session_scope
    from webapp.demo.seed import seed_demo

    fixed = datetime(2026, 11, 1, tzinfo=UTC)
    snapshots = []
    for name in ("a", "b"):
        app = create_app({**app_config, "DATABASE_URL": f"sqlite:///{tmp_path / name}.sqlite3"})
        engine = get_engine(app)
        migrations.upgrade(engine)
        with session_scope(engine) as s:
            seed_demo(s, seed=3, now=fixed)
        with session_scope(engine) as s:
            snapshots.append(
                s.exec(select(Message.message_id, Message.subject, Message.sent_at).order_by(Message.message_id)).all()
            )
        engine.dispose()
    assert snapshots[0] == snapshots[1]
