"""The shared cache, chosen by CACHE_URL.

``simple://``                 in-process (one worker)
``filesystem:///abs/path``    files in a private folder, shared by processes on one host
``redis://host:6379/0``       Redis, shared by every process of a deployment
``null://``                   no caching
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from urllib.parse import urlparse

from cachelib import BaseCache, FileSystemCache, NullCache, RedisCache, SimpleCache
from flask import Flask, current_app

from webapp.config import ConfigError

DEFAULT_TIMEOUT = 300


def make_cache(url: str, *, key_prefix: str = "inbox:") -> BaseCache:
    parsed = urlparse(url)
    scheme = parsed.scheme
    if scheme == "simple":
        return SimpleCache(threshold=5000, default_timeout=DEFAULT_TIMEOUT)
    if scheme == "null":
        return NullCache()
    if scheme == "filesystem":
        if not parsed.path:
            raise ConfigError("CACHE_URL filesystem:// needs an absolute folder path.")
        # The folder must hold this cache only: cachelib prunes and pickles whatever is there.
        return FileSystemCache(
            parsed.path, threshold=20000, default_timeout=DEFAULT_TIMEOUT, mode=0o600
        )
    if scheme in {"redis", "rediss"}:
        import redis

        client = redis.Redis.from_url(url)
        return RedisCache(client, default_timeout=DEFAULT_TIMEOUT, key_prefix=key_prefix)
    raise ConfigError(
        f"CACHE_URL {url!r} is not supported: use simple://, filesystem:///PATH, redis://… or null://."
    )


def init_app(app: Flask) -> None:
    app.extensions["cache"] = make_cache(app.config["CACHE_URL"])
    app.extensions["single_flight"] = make_single_flight(app.config["CACHE_URL"])


def get_cache() -> BaseCache:
    return current_app.extensions["cache"]


class SingleFlight:
    """One holder per name at a time: threads of this process always, and every process
    sharing the Redis server when the cache is Redis. Used so that concurrent misses for
    one key make one lookup."""

    def __init__(self, redis_client=None, *, timeout: float = 15.0):
        self._redis = redis_client
        self._timeout = timeout
        self._guard = threading.Lock()
        self._locks: dict[str, list] = {}  # name -> [lock, users]

    @contextmanager
    def hold(self, name: str) -> Iterator[None]:
        with self._guard:
            entry = self._locks.setdefault(name, [threading.Lock(), 0])
            entry[1] += 1
        try:
            with entry[0]:
                if self._redis is None:
                    yield
                else:
                    lock = self._redis.lock(f"inbox:flight:{name}", timeout=self._timeout, blocking_timeout=self._timeout)
                    acquired = lock.acquire()
                    try:
                        yield  # on a timeout, go ahead unlocked rather than fail the page
                    finally:
                        if acquired:
                            try:
                                lock.release()
                            except Exception:  # noqa: BLE001 - the lock expired; nothing to release
                                pass
        finally:
            with self._guard:
                entry[1] -= 1
                if entry[1] == 0:
                    self._locks.pop(name, None)


def make_single_flight(url: str) -> SingleFlight:
    if urlparse(url).scheme in {"redis", "rediss"}:
        import redis

        return SingleFlight(redis.Redis.from_url(url))
    return SingleFlight()
