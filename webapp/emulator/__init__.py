"""A Salesforce emulator: a separate WSGI app speaking Salesforce's wire protocol (OAuth 2.0
web-server, refresh and client-credentials flows; REST query/queryAll with a real SOQL parser,
sObjects, sObject Collections, limits) over a deterministic seeded org, with faults on demand.
It imports nothing from the rest of `webapp`.

    app = create_emulator_app(EmulatorOptions(contacts=1000))
    running = serve_in_thread(options)          # from webapp.emulator.server
    running.url                                  # http://127.0.0.1:<port>; instance and login URL

In-process state is `app.emulator` (an `app.Emulator`):
    .options                      the EmulatorOptions in force
    .store                        the org: .store.tables["Contact"].records, .store.get(type, id)
    .expire_sessions()            every access token answers 401 INVALID_SESSION_ID from now on
    .revoke_refresh_tokens()      every refresh token answers invalid_grant from now on
    .set_faults(latency_ms=, fail_after=, unavailable=, edge_502=, lock_rows=, refuse_sessions=,
                after_commit_502=, after_commit_503=, after_commit_drop=)
                                  fail_after=N: 403 REQUEST_LIMIT_EXCEEDED once N API calls
                                  were made; unavailable/edge_502/lock_rows=N: the next N calls
                                  (writes, for lock_rows) fail with 503 / an HTML 502 page /
                                  UNABLE_TO_LOCK_ROW; refuse_sessions=N: the next N data API
                                  calls answer 401 INVALID_SESSION_ID even for a fresh token;
                                  after_commit_502/_503/_drop=N: the next N writes are made,
                                  then answered with an edge 502, a 503, or a dropped connection;
                                  latency_ms: added to every call
    .faults                       the faults in force (countdowns decrease as they fire)
    .calls["query"]               calls per endpoint name: authorize, token, revoke, userinfo,
                                  identity, versions, resources, query, query_all, query_more,
                                  describe_global, sobject_info, sobject_describe, sobject_get,
                                  sobject_create, sobject_update, sobject_delete, sobject_upsert,
                                  sobject_get_by_external_id, sobject_updated, sobject_deleted,
                                  collections_create/update/delete/retrieve/upsert, limits
    .calls.snapshot(), .reset()   all counts; clear faults, counts and API usage
    .api_used                     the DailyApiRequests used so far
    .set_enhanced_email(False)    the org without Enhanced Email: EmailMessage and
                                  EmailMessageRelation are not available (`.enhanced_email`)
    .set_duplicate_rules({"Contact": "block", "Lead": "alert", "Account": None})
                                  duplicate rules on Contact/Lead Email and Account Name
                                  (duplicates.py); None turns one off

The same over HTTP, outside Salesforce's paths: GET /_emulator/state, POST /_emulator/faults
(JSON body of fault values), POST /_emulator/expire-sessions, POST /_emulator/revoke-refresh-tokens,
GET /_emulator/calls, POST /_emulator/reset, POST /_emulator/enhanced-email ({"enabled": bool}),
POST /_emulator/duplicate-rules ({"Contact": "block" | "alert" | null, ...}).
"""

from .app import Emulator, create_emulator_app
from .options import EmulatorOptions
from .org import DEMO_ORG, generate_org

__all__ = ["DEMO_ORG", "Emulator", "EmulatorOptions", "create_emulator_app", "generate_org"]
