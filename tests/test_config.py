"""Settings from the environment, and what the factory must not do."""

from __future__ import annotations

import threading

import pytest
from cachelib import FileSystemCache, NullCache, RedisCache, SimpleCache
from sqlalchemy import inspect

from webapp import create_app
from webapp.cache import make_cache
from webapp.config import DEV_SECRET_KEY, ConfigError, load_config
from webapp.db import get_engine


@pytest.fixture
def clean_env(monkeypatch):
    for name in ("APP_ENV", "SECRET_KEY", "DATABASE_URL", "CACHE_URL", "PUBLIC_BASE_URL", "SCHEDULER_ENABLED"):
        monkeypatch.delenv(name, raising=False)
    return monkeypatch


def test_default_secret_key_is_refused_outside_development(clean_env, tmp_path):
    with pytest.raises(ConfigError, match="SECRET_KEY"):
        load_config(str(tmp_path))
    clean_env.setenv("APP_ENV", "production")
    clean_env.setenv("SECRET_KEY", DEV_SECRET_KEY)
    with pytest.raises(ConfigError, match="SECRET_KEY"):
        load_config(str(tmp_path))
    clean_env.setenv("SECRET_KEY", "a-real-long-random-secret-value")
    assert load_config(str(tmp_path))["SECRET_KEY"] == "a-real-long-random-secret-value"


def test_development_defaults_use_the_instance_folder(clean_env, tmp_path):
    clean_env.setenv("APP_ENV", "development")
    config = load_config(str(tmp_path))
    assert config["DATABASE_URL"] == f"sqlite:///{tmp_path / 'inbox.sqlite3'}"
    assert config["CACHE_URL"] == f"filesystem://{tmp_path / 'cache'}"
    assert config["SCHEDULER_ENABLED"] is True
    assert config["PUBLIC_BASE_URL"] == "http://127.0.0.1:5000"


def test_environment_values_are_read(clean_env, tmp_path):
    clean_env.setenv("APP_ENV", "development")
    clean_env.setenv("DATABASE_URL", "postgres://u@db:5432/inbox")
    clean_env.setenv("CACHE_URL", "redis://127.0.0.1:6379/3")
    clean_env.setenv("PUBLIC_BASE_URL", "https://inbox.example.com/")
    clean_env.setenv("SCHEDULER_ENABLED", "false")
    config = load_config(str(tmp_path))
    assert config["DATABASE_URL"] == "postgresql+psycopg://u@db:5432/inbox"
    assert config["CACHE_URL"] == "redis://127.0.0.1:6379/3"
    assert config["PUBLIC_BASE_URL"] == "https://inbox.example.com"
    assert config["SCHEDULER_ENABLED"] is False


def test_unsupported_database_url_is_a_clear_error(clean_env, tmp_path):
    clean_env.setenv("APP_ENV", "development")
    clean_env.setenv("DATABASE_URL", "mysql://root@localhost/inbox")
    with pytest.raises(ConfigError, match="DATABASE_URL"):
        load_config(str(tmp_path))


def test_cache_backends_from_url(tmp_path):
    assert isinstance(make_cache("simple://"), SimpleCache)
    assert isinstance(make_cache("null://"), NullCache)
    assert isinstance(make_cache(f"filesystem://{tmp_path}/c"), FileSystemCache)
    redis_cache = make_cache("redis://127.0.0.1:6379/0", key_prefix="test-config:")
    assert isinstance(redis_cache, RedisCache)
    redis_cache.set("probe", "value")
    assert redis_cache.get("probe") == "value"
    redis_cache.delete("probe")
    with pytest.raises(ConfigError, match="CACHE_URL"):
        make_cache("memcached://localhost")


def test_factory_starts_no_threads_and_runs_no_migrations(app_config, tmp_path):
    app_config = {**app_config, "DATABASE_URL": f"sqlite:///{tmp_path / 'fresh.sqlite3'}"}
    before = threading.active_count()
    app = create_app(app_config)
    assert threading.active_count() == before
    assert inspect(get_engine(app)).get_table_names() == []
    get_engine(app).dispose()


def test_mail_import_limit_from_the_environment(clean_env, tmp_path):
    clean_env.setenv("APP_ENV", "development")
    clean_env.setenv("MAIL_IMPORT_MAX_BYTES", "1048576")
    assert load_config(str(tmp_path))["MAIL_IMPORT_MAX_BYTES"] == 1048576
    clean_env.setenv("MAIL_IMPORT_MAX_BYTES", "lots")
    with pytest.raises(ConfigError, match="MAIL_IMPORT_MAX_BYTES"):
        load_config(str(tmp_path))


def test_production_needs_encryption_keys(clean_env, app_config):
    with pytest.raises(ConfigError, match="ENCRYPTION_KEYS"):
        create_app({**app_config, "ENV_NAME": "production", "TESTING": False, "ENCRYPTION_KEYS": ""})
    with pytest.raises(ConfigError, match="Fernet"):
        create_app({**app_config, "ENCRYPTION_KEYS": "not-a-key"})
