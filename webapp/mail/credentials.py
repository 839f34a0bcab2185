"""The passwords of a mailbox, through the workspace vault (webapp.crypto.Vault): stored as
ciphertext, decrypted only to log in, never shown back."""

from __future__ import annotations

from dataclasses import dataclass

from webapp.models import Mailbox


@dataclass(frozen=True)
class Login:
    username: str
    password: str


def set_imap_password(mailbox: Mailbox, vault, password: str) -> None:
    mailbox.imap_password_enc = vault.encrypt(password)


def set_smtp_password(mailbox: Mailbox, vault, password: str | None) -> None:
    mailbox.smtp_password_enc = vault.encrypt(password) if password else None


def imap_login(mailbox: Mailbox, vault) -> Login:
    return Login(mailbox.imap_username, vault.decrypt(mailbox.imap_password_enc))


def smtp_login(mailbox: Mailbox, vault) -> Login:
    """The IMAP login when the mailbox says "same as IMAP", else its own SMTP login."""
    if mailbox.smtp_same_as_imap:
        return imap_login(mailbox, vault)
    return Login(mailbox.smtp_username or "", vault.decrypt(mailbox.smtp_password_enc) or "")


def rotate_secrets(session, vault) -> int:
    """Re-encrypt every mailbox password under the newest key; returns how many rows changed."""
    from sqlalchemy import select

    rows = 0
    for mailbox in session.execute(select(Mailbox)).scalars():
        mailbox.imap_password_enc = vault.rotate(mailbox.imap_password_enc)
        mailbox.smtp_password_enc = vault.rotate(mailbox.smtp_password_enc)
        session.add(mailbox)
        rows += 1
    session.flush()
    return rows
