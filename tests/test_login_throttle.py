"""Sign-in throttling per account and per client address, in the shared cache."""

from __future__ import annotations

import threading
import uuid

import pytest
from cachelib import SimpleCache

from tests.conftest import Client
from webapp import create_app
from webapp.auth.throttle import Limits, LoginThrottle, Throttled
from webapp.db import get_engine

RIGHT = "correct-horse-battery"
REDIS_URL = "redis://127.0.0.1:6379/0"


def _attempt(client: Client, email: str, password: str, address: str = "127.0.0.1"):
    return client.post("/login", {"email": email, "password": password}, environ_base={"REMOTE_ADDR": address})


def test_five_wrong_passwords_lock_the_account_and_the_right_one_is_refused_too(client, make_user):
    make_user("ann@acme.test")
    answers = [_attempt(client, "ann@acme.test", f"wrong-{i}") for i in range(5)]
    assert [r.status_code for r in answers] == [401, 401, 401, 401, 429]
    locked = _attempt(client, "Ann@Acme.test ", RIGHT)  # the same account however it is typed
    assert locked.status_code == 429
    body = locked.get_data(as_text=True)
    assert "Too many attempts; try again in 15 minutes." in body
    assert '<form class="auth-card"' in body  # on the form, not an error page
    assert 840 < int(locked.headers["Retry-After"]) <= 900
    assert client.get("/inbox").status_code == 302  # not signed in


def test_an_unknown_account_is_locked_the_same_way(client, make_user):
    make_user("ann@acme.test")
    known = Client(client.app)
    for who, c in (("ann@acme.test", known), ("nobody@acme.test", client)):
        codes = [_attempt(c, who, f"wrong-{i}", address=f"10.0.0.{len(who)}").status_code for i in range(6)]
        assert codes == [401, 401, 401, 401, 429, 429]
    a = _attempt(known, "ann@acme.test", "x-wrong", "10.0.1.1").get_data(as_text=True)
    b = _attempt(client, "nobody@acme.test", "x-wrong", "10.0.1.2").get_data(as_text=True)
    assert "Too many attempts; try again in 15 minutes." in a and "Too many attempts; try again in 15 minutes." in b


def test_a_success_resets_the_account_counter(client, make_user):
    make_user("ann@acme.test")
    for i in range(4):
        assert _attempt(client, "ann@acme.test", f"wrong-{i}").status_code == 401
    assert _attempt(client, "ann@acme.test", RIGHT).status_code == 302
    client.post("/logout")
    for i in range(4):
        assert _attempt(client, "ann@acme.test", f"wrong-again-{i}").status_code == 401


@pytest.fixture
def address_limited(app_config):
    app = create_app({**app_config, "LOGIN_MAX_FAILURES_PER_ADDRESS": 6})
    yield app
    get_engine(app).dispose()


def test_one_address_trying_many_accounts_is_locked_and_another_address_is_not(address_limited):
    from tests.conftest import Client as C

    client = C(address_limited)
    codes = [_attempt(client, f"user{i}@acme.test", "wrong-pass", "203.0.113.7").status_code for i in range(7)]
    assert codes == [401] * 5 + [429, 429]
    assert _attempt(client, "fresh@acme.test", "wrong-pass", "203.0.113.8").status_code == 401


def test_forwarded_for_is_ignored_unless_proxies_are_trusted(app_config):
    for proxies, expected in ((0, 429), (1, 401)):
        app = create_app({**app_config, "TRUSTED_PROXIES": proxies, "LOGIN_MAX_FAILURES_PER_ADDRESS": 2})
        client = Client(app)
        codes = [
            client.post(
                "/login",
                {"email": f"u{i}@acme.test", "password": "wrong-pass"},
                headers={"X-Forwarded-For": f"198.51.100.{i}"},
            ).status_code
            for i in range(3)
        ]
        assert codes[-1] == expected, (proxies, codes)
        get_engine(app).dispose()


def test_each_lockout_lasts_twice_as_long_as_the_one_before():
    now = [1_000_000.0]
    throttle = LoginThrottle(SimpleCache(), Limits(account_failures=2, address_failures=100, lockout=60), clock=lambda: now[0])

    def fail_until_locked():
        for _ in range(3):
            try:
                throttle.begin("acct", "addr")
                throttle.failed("acct", "addr")
            except Throttled as exc:
                return exc.retry_after
        raise AssertionError("never locked")

    assert fail_until_locked() == 60
    now[0] += 61
    assert fail_until_locked() == 120
    now[0] += 121
    assert fail_until_locked() == 240
    now[0] += 241
    throttle.begin("acct", "addr")  # the lock is over: counting starts again


def test_lock_is_logged_with_the_account_hash_and_address(client, make_user, capsys):
    make_user("ann@acme.test")
    for i in range(5):
        _attempt(client, "ann@acme.test", f"wrong-{i}", "192.0.2.9")
    err = capsys.readouterr().err
    assert '"msg": "login locked"' in err
    assert '"address": "192.0.2.9"' in err
    assert "ann@acme.test" not in err  # the account appears as a hash only
    from webapp.auth.throttle import account_key

    assert account_key("ann@acme.test") in err


def _redis_available() -> bool:
    try:
        import redis

        return bool(redis.Redis.from_url(REDIS_URL, socket_timeout=1).ping())
    except Exception:  # noqa: BLE001
        return False


@pytest.fixture
def two_redis_apps(app_config):
    if not _redis_available():
        pytest.skip("Redis is not running on 127.0.0.1:6379")
    apps = [create_app({**app_config, "CACHE_URL": REDIS_URL}) for _ in range(2)]
    yield apps
    for app in apps:
        get_engine(app).dispose()


def test_failures_add_up_across_two_instances_sharing_redis(two_redis_apps, make_user):
    email = f"ann-{uuid.uuid4().hex[:8]}@acme.test"
    make_user(email)
    address = f"10.{uuid.uuid4().int % 250}.{uuid.uuid4().int % 250}.1"
    first, second = (Client(app) for app in two_redis_apps)
    codes = [_attempt(c, email, f"wrong-{i}", address).status_code for i, c in enumerate([first, second] * 2)]
    assert codes == [401] * 4
    assert _attempt(first, email, "wrong-last", address).status_code == 429
    assert _attempt(second, email, RIGHT, address).status_code == 429


def test_parallel_guesses_on_two_instances_get_at_most_the_limit_of_password_checks(two_redis_apps, make_user):
    email = f"bob-{uuid.uuid4().hex[:8]}@acme.test"
    make_user(email)
    address = f"10.{uuid.uuid4().int % 250}.{uuid.uuid4().int % 250}.2"
    clients = [Client(two_redis_apps[i % 2]) for i in range(12)]
    for c in clients:
        c.get("/login")
    codes: list[int] = []
    start = threading.Barrier(len(clients))

    def guess(c):
        start.wait()
        codes.append(_attempt(c, email, "wrong-guess", address).status_code)

    threads = [threading.Thread(target=guess, args=(c,)) for c in clients]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    # Every guess is counted before its password is checked: at most the limit (5) are checked.
    assert codes.count(401) <= 5 and codes.count(429) >= 7, codes
    again = _attempt(clients[0], email, RIGHT, address)
    assert again.status_code == 429
    assert "try again in 15 minutes" in again.get_data(as_text=True)  # one lockout, not one per guess


def test_null_cache_does_not_throttle_and_says_so_at_start(app_config, make_user, capsys):
    app = create_app({**app_config, "CACHE_URL": "null://"})
    assert "sign-in attempts are not throttled" in capsys.readouterr().err
    make_user("ann@acme.test")
    client = Client(app)
    assert {_attempt(client, "ann@acme.test", f"wrong-{i}").status_code for i in range(8)} == {401}
    assert _attempt(client, "ann@acme.test", RIGHT).status_code == 302
    get_engine(app).dispose()
