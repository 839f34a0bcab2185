"""Every setting of an emulated org and its External Client App."""

from __future__ import annotations

from dataclasses import dataclass, field

from . import org

DEFAULT_REDIRECT_URIS = [
    "http://127.0.0.1:5000/oauth/salesforce/callback",
    "http://localhost:5000/oauth/salesforce/callback",
]
LATEST_VERSION = "66.0"  # Spring '26, what production orgs answer
OLDEST_VERSION = "31.0"
# Scopes an app can have; it may request any of its own (`scopes`), and gets them all when it
# sends no `scope` parameter.
SUPPORTED_SCOPES = ["api", "refresh_token", "offline_access", "id", "web", "full", "openid",
                    "profile", "email", "address", "phone", "chatter_api"]
DEFAULT_SCOPES = "api refresh_token offline_access id web"


@dataclass
class EmulatorOptions:
    client_id: str = "emulator-client-id"
    client_secret: str = "emulator-client-secret"
    redirect_uris: list[str] = field(default_factory=lambda: list(DEFAULT_REDIRECT_URIS))
    username: str = org.DEFAULT_USERNAME
    password: str = "emulator"
    seed: int = org.DEMO_ORG["seed"]
    accounts: int = org.DEMO_ORG["accounts"]
    contacts: int = org.DEMO_ORG["contacts"]
    opportunities: int = org.DEMO_ORG["opportunities"]
    leads: int | None = None  # None: one lead for every six contacts
    multi_currency: bool = False
    enhanced_email: bool = True  # EmailMessage and EmailMessageRelation exist (most orgs)
    latency_ms: int = 0
    session_seconds: int = 7200  # access-token lifetime; Salesforce's default session timeout
    rotate_refresh_tokens: bool = False
    refresh_token_seconds: int | None = None  # None: valid until revoked
    code_seconds: int = 900  # authorization codes are single-use and short-lived
    api_daily_limit: int = 15000  # a Developer Edition org's DailyApiRequests
    scopes: str = DEFAULT_SCOPES
    client_credentials: bool = True  # a Run-As user is set for the client credentials flow
    require_secret: bool = True  # "Require secret for Web Server Flow"
    max_cursors: int = 10  # open query cursors per user; the oldest is released beyond this
    # Faults in force from the start (see faults.Faults).
    fail_after: int | None = None
    unavailable: int = 0
    edge_502: int = 0
    lock_rows: int = 0
    refuse_sessions: int = 0
    max_version: str | None = None  # stop the org's API at an older release, as an org not yet upgraded
    after_commit_502: int = 0
    after_commit_503: int = 0
    after_commit_drop: int = 0
    # Duplicate rules in force: {"Contact": "block" | "alert", "Lead": …, "Account": …}; none
    # by default (see duplicates.py).
    duplicate_rules: dict[str, str] = field(default_factory=dict)
