"""Seed a demo workspace: users, a few hundred contacts, months of threads, and deals.

Deterministic for a given seed and day, and idempotent: a second run finds the workspace
already seeded and changes nothing. Most contacts are people of the emulator's demo org,
so the Salesforce card shows up on their conversations once the demo is connected; a few
are open leads of that org, whose card shows the lead.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy import func, select
from sqlmodel import Session

from webapp.auth.services import create_user, get_or_create_workspace
from webapp.clock import utcnow
from webapp.demo.threads import AGENTS, SCRIPTS
from webapp.emulator.org import DEMO_ORG, generate_org
from webapp.models import DEAL_STAGES, Contact, Conversation, Deal, Message, User, WorkspaceAddress

WORKSPACE = "Northwind Support"
DOMAIN = "northwind.example"
ADMIN = ("admin@northwind.example", "demo-admin-password", "Alex Admin")
MEMBER = ("agent@northwind.example", "demo-agent-password", "Maya Chen")
INBOX_ONLY_CONTACTS = 60
CONVERSATIONS = 420
LEAD_CONTACTS = 12  # open leads of the emulator's demo org that write in, one thread each
HISTORY_DAYS = 270
# How long the team takes to answer, by the contact's account type (hours, min/max):
# the analytics page can then show that Enterprise accounts are answered fastest.
REPLY_HOURS = {"Enterprise": (0.2, 3), "Mid-Market": (1, 10), "SMB": (3, 30), "Partner": (1, 12)}
OTHER_REPLY_HOURS = (2, 20)
CUSTOMER_REPLY_HOURS = (0.5, 72)
OUTSIDE_FIRST = """Olivia Liam Emma Noah Ava Elijah Sophia Lucas Mia Levi Isla Mateo Zoe Leo Nora
Ezra Luna Kai Aria Finn""".split()
OUTSIDE_LAST = """Lindqvist Okafor Tanaka Moreno Novak Haddad Kowalski Silva Brennan Duarte Ivanova
Fischer Mensah Rossi Dubois""".split()
OUTSIDE_DOMAINS = ("gmail.com", "outlook.com", "proton.me", "fastmail.com", "hey.com")


@dataclass
class SeedReport:
    created: bool
    workspace: str
    workspace_id: int
    contacts: int
    conversations: int
    messages: int
    deals: int
    logins: tuple[tuple[str, str, str], ...]


@dataclass
class _Person:
    name: str
    email: str
    phone: str | None
    title: str | None
    company: str | None
    account_type: str | None


def seed_demo(session: Session, *, seed: int = 7, now: datetime | None = None) -> SeedReport:
    workspace, created = get_or_create_workspace(session, WORKSPACE)
    logins = (("admin", ADMIN[0], ADMIN[1]), ("member", MEMBER[0], MEMBER[1]))
    already = session.execute(
        select(func.count()).select_from(Conversation).where(Conversation.workspace_id == workspace.id)
    ).scalar_one()
    if not already:
        _seed(session, workspace.id, random.Random(seed), now or utcnow())
        # Its own generator, so the threads above stay what they were before leads existed.
        _seed_leads(session, workspace.id, random.Random(f"{seed}:leads"), now or utcnow())
    for (role, email, password), (_, _, name) in zip(logins, (ADMIN, MEMBER), strict=True):
        if session.execute(select(User.id).where(User.email == email)).first() is None:
            create_user(session, email=email, password=password, role=role, workspace=workspace, name=name)
    session.flush()

    def count(model) -> int:
        return session.execute(
            select(func.count()).select_from(model).where(model.workspace_id == workspace.id)
        ).scalar_one()

    return SeedReport(
        created=not already,
        workspace=workspace.name,
        workspace_id=workspace.id,
        contacts=count(Contact),
        conversations=count(Conversation),
        messages=count(Message),
        deals=count(Deal),
        logins=logins,
    )


def _people(rng: random.Random) -> list[_Person]:
    """Salesforce contacts of the demo org (so cards match), then people Salesforce lacks."""
    org = generate_org(**DEMO_ORG)
    accounts = {a["Id"]: a for a in org["Account"]}
    people: list[_Person] = []
    seen: set[str] = set()
    for record in org["Contact"]:
        email = record.get("Email")
        if record.get("IsDeleted") or not email or email.lower() in seen:
            continue
        seen.add(email.lower())
        account = accounts.get(record.get("AccountId"))
        people.append(
            _Person(
                name=f"{record.get('FirstName') or ''} {record['LastName']}".strip(),
                email=email.lower() if rng.random() < 0.8 else email,
                phone=record.get("Phone"),
                title=record.get("Title"),
                company=account["Name"] if account else None,
                account_type=account["Type"] if account else None,
            )
        )
    for i in range(INBOX_ONLY_CONTACTS):
        first, last = rng.choice(OUTSIDE_FIRST), rng.choice(OUTSIDE_LAST)
        email = f"{first.lower()}.{last.lower()}{i}@{rng.choice(OUTSIDE_DOMAINS)}"
        people.append(_Person(f"{first} {last}", email, None, None, None, None))
    return people


def _lead_people(org: dict) -> list[_Person]:
    """Open (not converted) leads with an email, one person per email."""
    people, seen = [], set()
    for lead in org["Lead"]:
        email = lead.get("Email")
        if lead["IsDeleted"] or lead["IsConverted"] or not email or email.lower() in seen:
            continue
        seen.add(email.lower())
        name = f"{lead.get('FirstName') or ''} {lead['LastName']}".strip()
        people.append(_Person(name, email, lead.get("Phone"), lead.get("Title"), lead["Company"], None))
    return people


def _seed_leads(session: Session, workspace_id: int, rng: random.Random, now: datetime) -> None:
    people = _lead_people(generate_org(**DEMO_ORG))
    taken = set(session.execute(select(Contact.email_normalized).where(Contact.workspace_id == workspace_id)).scalars())
    people = [p for p in people if p.email.lower() not in taken][:LEAD_CONTACTS]
    for number, person in enumerate(people, start=CONVERSATIONS):
        contact = Contact(
            workspace_id=workspace_id,
            name=person.name,
            email=person.email,
            email_normalized=person.email.lower(),
            phone=person.phone,
            title=person.title,
            company=person.company,
            created_at=now - timedelta(days=HISTORY_DAYS + 30),
            updated_at=now - timedelta(days=HISTORY_DAYS + 30),
        )
        session.add(contact)
        session.flush()
        _conversation(session, workspace_id, rng, now, number, contact, person)
    session.flush()


def _seed(session: Session, workspace_id: int, rng: random.Random, now: datetime) -> None:
    session.add(WorkspaceAddress(workspace_id=workspace_id, value=DOMAIN))
    contacts: list[tuple[Contact, _Person]] = []
    for person in _people(rng):
        contact = Contact(
            workspace_id=workspace_id,
            name=person.name,
            email=person.email,
            email_normalized=person.email.lower(),
            phone=person.phone,
            title=person.title,
            company=person.company,
            created_at=now - timedelta(days=HISTORY_DAYS + 30),
            updated_at=now - timedelta(days=HISTORY_DAYS + 30),
        )
        session.add(contact)
        contacts.append((contact, person))
    session.flush()

    for number in range(CONVERSATIONS):
        contact, person = rng.choice(contacts)
        _conversation(session, workspace_id, rng, now, number, contact, person)

    for number in range(45):
        contact, person = rng.choice([c for c in contacts if c[1].company])
        stage = rng.choice(DEAL_STAGES)
        updated = now - timedelta(days=rng.uniform(0, 120))
        session.add(
            Deal(
                workspace_id=workspace_id,
                contact_id=contact.id,
                name=f"{person.company} – {rng.choice(('Annual plan', 'Seat expansion', 'Pilot', 'Renewal', 'Support add-on'))}",
                amount_minor=rng.randrange(2_000, 180_000) * 100,
                currency="USD",
                stage=stage,
                close_date=(updated + timedelta(days=rng.randint(-30, 120))).date(),
                created_at=updated - timedelta(days=rng.uniform(1, 60)),
                updated_at=updated,
            )
        )
    session.flush()


def _conversation(session, workspace_id, rng, now, number, contact, person) -> None:
    script = rng.choice(SCRIPTS)
    agent = rng.choice(AGENTS)
    first = person.name.split()[0]
    values = {
        "first": first,
        "company": person.company or "your team",
        "agent": agent.split()[0],
        "invoice": f"INV-{rng.randint(10000, 99999)}",
        "seats": rng.choice((12, 25, 40, 80, 150)),
    }
    started = now - timedelta(days=rng.uniform(0.05, HISTORY_DAYS))
    # Recent threads are often still waiting on the team's first answer.
    age_days = (now - started).days
    turns = script.turns
    if age_days < 3 and rng.random() < 0.5:
        turns = turns[:1]
    else:
        turns = turns[: rng.randint(2, len(turns))]
    subject = script.subject.format(**values)
    conversation = Conversation(
        workspace_id=workspace_id, contact_id=contact.id, subject=subject, created_at=started
    )
    session.add(conversation)
    session.flush()

    sent = started
    previous_id = None
    last_inbound, last_sent = True, started
    agent_email = f"{agent.split()[0].lower()}@{DOMAIN}"
    for index, text in enumerate(turns):
        inbound = index % 2 == 0
        if index:
            low, high = (
                REPLY_HOURS.get(person.account_type, OTHER_REPLY_HOURS)
                if not inbound
                else CUSTOMER_REPLY_HOURS
            )
            sent = sent + timedelta(hours=rng.uniform(low, high))
        if sent > now:
            break
        body = text.format(**values)
        message_id = f"<demo-{number}-{index}@{DOMAIN}>"
        session.add(
            Message(
                workspace_id=workspace_id,
                conversation_id=conversation.id,
                direction="in" if inbound else "out",
                from_address=person.email if inbound else agent_email,
                from_name=person.name if inbound else agent,
                to_addresses=f"support@{DOMAIN}" if inbound else person.email,
                subject=subject if index == 0 else f"Re: {subject}",
                sent_at=sent.astimezone(UTC),
                message_id=message_id,
                in_reply_to=previous_id,
                snippet=" ".join(body.split())[:200],
                body_text=body,
            )
        )
        previous_id = message_id
        last_inbound, last_sent = inbound, sent
    conversation.last_activity_at = last_sent
    if last_inbound:
        conversation.status = "open"
    else:
        conversation.status = "closed" if age_days > 10 or rng.random() < 0.4 else "pending"
    session.add(conversation)
