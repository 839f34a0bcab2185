"""Secrets at rest: MultiFernet over ENCRYPTION_KEYS (comma-separated, newest first).

On a development machine without keys, one is derived from SECRET_KEY so the demo runs with
nothing to set; anywhere else the keys must be given (the container keeps its own on /data).
"""

from __future__ import annotations

import base64

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from webapp.config import ConfigError


class SecretUnreadable(RuntimeError):
    """A stored secret was encrypted under a key that is no longer configured."""


class Vault:
    def __init__(self, keys: list[bytes]):
        if not keys:
            raise ConfigError("At least one encryption key is needed.")
        try:
            self._fernet = MultiFernet([Fernet(k) for k in keys])
        except ValueError as exc:
            raise ConfigError(
                "ENCRYPTION_KEYS must be Fernet keys (32 url-safe base64 bytes), comma-separated, "
                'newest first. Make one with: python -c "from cryptography.fernet import Fernet; '
                'print(Fernet.generate_key().decode())"'
            ) from exc

    def encrypt(self, plaintext: str | None) -> str | None:
        if plaintext is None:
            return None
        return self._fernet.encrypt(plaintext.encode()).decode()

    def decrypt(self, token: str | None) -> str | None:
        if token is None:
            return None
        try:
            return self._fernet.decrypt(token.encode()).decode()
        except InvalidToken as exc:
            raise SecretUnreadable(
                "A stored secret cannot be decrypted with the configured ENCRYPTION_KEYS."
            ) from exc

    def rotate(self, token: str | None) -> str | None:
        """The same secret encrypted under the newest key."""
        if token is None:
            return None
        try:
            return self._fernet.rotate(token.encode()).decode()
        except InvalidToken as exc:
            raise SecretUnreadable("A stored secret cannot be decrypted for rotation.") from exc


def _derived_key(secret_key: str) -> bytes:
    hkdf = HKDF(algorithm=hashes.SHA256(), length=32, salt=b"inbox-dev-vault", info=b"fernet")
    return base64.urlsafe_b64encode(hkdf.derive(secret_key.encode()))


def vault_from_config(config) -> Vault:
    raw = [k.strip() for k in (config.get("ENCRYPTION_KEYS") or "").split(",") if k.strip()]
    if raw:
        return Vault([k.encode() for k in raw])
    if config["ENV_NAME"] in {"development", "test"} or config.get("TESTING"):
        return Vault([_derived_key(config["SECRET_KEY"])])
    raise ConfigError(
        "ENCRYPTION_KEYS is unset. Set it to one or more Fernet keys, newest first; make one with "
        'python -c "from cryptography.fernet import Fernet; print(Fernet.generate_key().decode())"'
    )
