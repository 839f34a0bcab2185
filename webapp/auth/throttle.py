"""Login throttling: failures counted per account and per client address in the shared cache,
so the limits hold across every process that shares it (Redis) or the host (filesystem).

Each attempt is counted before its password is checked, so parallel guesses cannot slip past
the limit; a success gives the attempt back. Reaching a limit locks the account or address;
each further lockout within a day lasts twice as long as the one before, up to a cap.
"""

from __future__ import annotations

import hashlib
import logging
import math
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

from cachelib import BaseCache, NullCache, RedisCache

log = logging.getLogger(__name__)

LEVEL_MEMORY = 24 * 3600  # how long a lockout counts towards the next one being longer


@dataclass(frozen=True)
class Limits:
    account_failures: int = 5
    address_failures: int = 20
    window: int = 900  # seconds over which failures add up
    lockout: int = 900  # the first lockout; doubled for each one after it
    max_lockout: int = 24 * 3600

    @classmethod
    def from_config(cls, config) -> "Limits":
        return cls(
            account_failures=config["LOGIN_MAX_FAILURES_PER_ACCOUNT"],
            address_failures=config["LOGIN_MAX_FAILURES_PER_ADDRESS"],
            window=config["LOGIN_FAILURE_WINDOW_SECONDS"],
            lockout=config["LOGIN_LOCKOUT_SECONDS"],
            max_lockout=config["LOGIN_MAX_LOCKOUT_SECONDS"],
        )


class Throttled(Exception):
    def __init__(self, retry_after: int):
        super().__init__(retry_after)
        self.retry_after = retry_after

    @property
    def minutes(self) -> int:
        return max(1, math.ceil(self.retry_after / 60))

    @property
    def message(self) -> str:
        unit = "minute" if self.minutes == 1 else "minutes"
        return f"Too many attempts; try again in {self.minutes} {unit}."


def account_key(email: str) -> str:
    """The account as the throttle and the logs know it: a hash, never the address itself."""
    return hashlib.sha256(email.encode()).hexdigest()[:24]


class LoginThrottle:
    def __init__(self, cache: BaseCache, limits: Limits, *, clock: Callable[[], float] = time.time):
        self.cache = cache
        self.limits = limits
        self.clock = clock
        # Redis increments atomically; the other backends are read-modify-write, guarded
        # here for this process's threads.
        self._atomic = isinstance(cache, RedisCache)
        self._guard = threading.RLock()

    @property
    def effective(self) -> bool:
        return not isinstance(self.cache, NullCache)

    def _scopes(self, account: str, address: str) -> list[tuple[str, str, int]]:
        return [
            ("account", f"login:acct:{account}", self.limits.account_failures),
            ("address", f"login:addr:{address}", self.limits.address_failures),
        ]

    def _add(self, key: str, delta: int, timeout: int) -> int:
        """Adds ``delta`` to a counter that expires ``timeout`` seconds after its first count."""
        if self._atomic:
            self.cache.add(key, 0, timeout=timeout)
            return int(self.cache.inc(key, delta) or 0)
        with self._guard:
            now = self.clock()
            entry = self.cache.get(key)
            count, expires = entry if entry and entry[1] > now else (0, now + timeout)
            count += delta
            self.cache.set(key, (count, expires), timeout=max(1, math.ceil(expires - now)))
            return count

    def _locked_for(self, key: str) -> int:
        until = self.cache.get(f"{key}:lock")
        return max(0, math.ceil(float(until) - self.clock())) if until else 0

    def _set_lock(self, key: str, until: float, timeout: int) -> bool:
        """Sets the lock unless one is in force; True when this call set it."""
        if self._atomic:
            return bool(self.cache.add(key, until, timeout=timeout))
        with self._guard:
            current = self.cache.get(key)
            if current is not None and float(current) > self.clock():
                return False
            return bool(self.cache.set(key, until, timeout=timeout))

    def _lock(self, key: str, scope: str, account: str, address: str) -> int:
        """Locks once: of many attempts over the limit at the same moment, one sets the lock
        (and makes the next one longer); the others get its remaining time."""
        level = self._count(f"{key}:level") + 1
        seconds = min(self.limits.lockout * 2 ** (level - 1), self.limits.max_lockout)
        if not self._set_lock(f"{key}:lock", self.clock() + seconds, seconds):
            return self._locked_for(key) or seconds
        self._add(f"{key}:level", 1, LEVEL_MEMORY)
        self.cache.delete(f"{key}:fails")
        log.warning(
            "login locked",
            extra={"scope": scope, "account": account, "address": address, "seconds": seconds, "lockout": level},
        )
        return seconds

    def begin(self, account: str, address: str) -> None:
        """Counts an attempt, or raises Throttled when the account or the address is locked."""
        # Counted first, then the lock read: an attempt racing the one that sets the lock (and
        # clears the count) either sees the lock or counts towards it, never slips between.
        counted = []
        for scope, key, limit in self._scopes(account, address):
            count = self._add(f"{key}:fails", 1, self.limits.window)
            counted.append((scope, key, limit, count))
        waits = [self._locked_for(key) for _scope, key, _limit, _count in counted]
        if max(waits) > 0:
            log.warning("login throttled", extra={"account": account, "address": address, "retry_after": max(waits)})
            raise Throttled(max(waits))
        over = [self._lock(key, scope, account, address) for scope, key, limit, count in counted if count > limit]
        if over:
            raise Throttled(max(over))

    def failed(self, account: str, address: str) -> None:
        """After a wrong password: the attempt stays counted; at the limit, lock at once."""
        seconds = [
            self._lock(key, scope, account, address)
            for scope, key, limit in self._scopes(account, address)
            if self._count(f"{key}:fails") >= limit
        ]
        if seconds:
            raise Throttled(max(seconds))

    def succeeded(self, account: str, address: str) -> None:
        """The right password: the account starts afresh; the address gets its attempt back."""
        (_, account_scope, _), (_, address_scope, _) = self._scopes(account, address)
        self.cache.delete_many(f"{account_scope}:fails", f"{account_scope}:level")
        if self._count(f"{address_scope}:fails") > 0:
            self._add(f"{address_scope}:fails", -1, self.limits.window)

    def _count(self, key: str) -> int:
        value = self.cache.get(key)
        if value is None:
            return 0
        return int(value) if self._atomic else int(value[0])
