"""The shared cache, chosen by CACHE_URL.

``simple://``                 in-process (one worker)
``filesystem:///abs/path``    files in a private folder, shared by processes on one host
``redis://host:6379/0``       Redis, shared by every process of a deployment
``null://``                   no caching
"""

from __future__ import annotations

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


def get_cache() -> BaseCache:
    return current_app.extensions["cache"]
