"""The Salesforce record an address is, when several share it: picked once by an agent on the
card and remembered for the workspace. The card, the sync's update of the inbox contact and
email logging all read it (``chosen``)."""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass

from sqlalchemy import exists, select
from sqlalchemy.engine import Engine
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session

from webapp.clock import utcnow
from webapp.models import CARD_SOBJECTS, Contact, SalesforceChoice

log = logging.getLogger(__name__)

SF_ID = re.compile(r"^[A-Za-z0-9]{15}(?:[A-Za-z0-9]{3})?$")
REVIEW_LIMIT = 20


class ChoiceRefused(ValueError):
    pass


@dataclass(frozen=True)
class Chosen:
    sobject: str
    sf_id: str


def chosen(engine: Engine, workspace_id: int, email_normalized: str) -> Chosen | None:
    with Session(engine) as session:
        row = session.execute(
            select(SalesforceChoice.sobject, SalesforceChoice.sf_id).where(
                SalesforceChoice.workspace_id == workspace_id, SalesforceChoice.email_normalized == email_normalized
            )
        ).first()
    return Chosen(*row) if row else None


def check(sobject: str, sf_id: str) -> None:
    if sobject not in CARD_SOBJECTS:
        raise ChoiceRefused("Choose a Salesforce contact or lead.")
    if not SF_ID.match(sf_id or ""):
        raise ChoiceRefused("That is not a Salesforce record id.")


def remember(engine: Engine, workspace_id: int, email_normalized: str, sobject: str, sf_id: str, user_id: int) -> None:
    """Saves the pick (one per address: a later pick replaces it) and says who made it."""
    check(sobject, sf_id)
    values = {"sobject": sobject, "sf_id": sf_id, "chosen_by_id": user_id, "chosen_at": utcnow()}
    for _ in range(2):  # two agents choosing at once: the second updates the first's row
        with Session(engine) as session:
            row = session.execute(
                select(SalesforceChoice).where(
                    SalesforceChoice.workspace_id == workspace_id, SalesforceChoice.email_normalized == email_normalized
                )
            ).scalar_one_or_none()
            if row is None:
                row = SalesforceChoice(workspace_id=workspace_id, email_normalized=email_normalized, **values)
                session.add(row)
            else:
                for name, value in values.items():
                    setattr(row, name, value)
            try:
                session.commit()
                break
            except IntegrityError:
                session.rollback()
    log.info(
        "salesforce card choice",
        extra={"workspace": workspace_id, "user": user_id, "sobject": sobject, "sf_id": sf_id},
    )


@dataclass
class Ambiguous:
    email: str
    matches: int
    contact_id: int


def still_ambiguous(session: Session, workspace_id: int, limit: int = REVIEW_LIMIT) -> list[Ambiguous]:
    """Inbox contacts whose address several Salesforce contacts share and no one has chosen for."""
    picked = exists().where(
        SalesforceChoice.workspace_id == Contact.workspace_id,
        SalesforceChoice.email_normalized == Contact.email_normalized,
    )
    rows = session.execute(
        select(Contact.email, Contact.salesforce_matches, Contact.id)
        .where(Contact.workspace_id == workspace_id, Contact.salesforce_matches > 1, ~picked)
        .order_by(Contact.salesforce_matches.desc(), Contact.email_normalized)
        .limit(limit)
    ).all()
    return [Ambiguous(*row) for row in rows]
