"""Faults on demand, call counts, the admin endpoints and the command line."""

from __future__ import annotations

import time

import pytest
from click.testing import CliRunner

from webapp.emulator import EmulatorOptions, create_emulator_app
from webapp.emulator.cli import describe, salesforce_emulator

V = "/services/data/v59.0"


def test_request_limit_after_n_calls(api, app):
    app.emulator.set_faults(fail_after=2)
    assert api.get(f"{V}/limits/").status_code == 200
    assert api.get(f"{V}/limits/").status_code == 200
    refused = api.get(f"{V}/limits/")
    assert refused.status_code == 403
    assert refused.json == [{"message": "TotalRequests Limit exceeded.", "errorCode": "REQUEST_LIMIT_EXCEEDED"}]
    assert app.emulator.calls["limits"] == 3


def test_daily_allowance_is_enforced():
    app = create_emulator_app(EmulatorOptions(accounts=2, contacts=2, opportunities=2, api_daily_limit=1))
    client = app.test_client()
    token = client.post("/services/oauth2/token", data={
        "grant_type": "client_credentials", "client_id": "emulator-client-id",
        "client_secret": "emulator-client-secret"}).json["access_token"]
    headers = {"Authorization": f"Bearer {token}"}
    assert client.get(f"{V}/limits/", headers=headers).headers["Sforce-Limit-Info"] == "api-usage=1/1"
    assert client.get(f"{V}/limits/", headers=headers).json[0]["errorCode"] == "REQUEST_LIMIT_EXCEEDED"


def test_burst_of_503_then_recovery(api, app):
    app.emulator.set_faults(unavailable=2)
    statuses = [api.get(f"{V}/limits/").status_code for _ in range(3)]
    assert statuses == [503, 503, 200]
    assert app.emulator.calls["limits"] == 3


def test_html_502_edge_page(api, app):
    app.emulator.set_faults(edge_502=1)
    response = api.get(f"{V}/query/", query_string={"q": "SELECT Id FROM Contact"})
    assert response.status_code == 502 and response.mimetype == "text/html"
    assert "<html" in response.get_data(as_text=True)
    assert api.get(f"{V}/query/", query_string={"q": "SELECT Id FROM Contact"}).status_code == 200


def test_unable_to_lock_row_on_writes(api, app):
    app.emulator.set_faults(lock_rows=2)
    assert api.get(f"{V}/query/", query_string={"q": "SELECT Id FROM Contact LIMIT 1"}).status_code == 200
    locked = api.post(f"{V}/sobjects/Contact/", json={"LastName": "Locked"})
    assert locked.status_code == 400 and locked.json[0]["errorCode"] == "UNABLE_TO_LOCK_ROW"
    assert locked.json[0]["message"].startswith("unable to obtain exclusive access to this record")
    items = api.post(f"{V}/composite/sobjects", json={"records": [
        {"attributes": {"type": "Contact"}, "LastName": "Locked"}]}).json
    assert items[0]["success"] is False and items[0]["errors"][0]["statusCode"] == "UNABLE_TO_LOCK_ROW"
    assert api.post(f"{V}/sobjects/Contact/", json={"LastName": "Free"}).status_code == 201


def test_latency_is_added_to_each_call(start_emulator, http, token_for):
    emulator = start_emulator(latency_ms=150)
    token = token_for(emulator.url)
    started = time.monotonic()
    response = http.get(f"{emulator.url}{V}/limits/", headers={"Authorization": f"Bearer {token}"})
    assert response.status_code == 200 and time.monotonic() - started >= 0.15


def test_expire_every_session(api, app):
    assert api.get(f"{V}/limits/").status_code == 200
    app.emulator.expire_sessions()
    assert api.get(f"{V}/limits/").json == [{"message": "Session expired or invalid",
                                             "errorCode": "INVALID_SESSION_ID"}]


def test_admin_endpoints(api, app):
    client = app.test_client()
    assert client.post("/_emulator/faults", json={"unavailable": 1, "fail_after": None}).json["unavailable"] == 1
    assert client.post("/_emulator/faults", json={"bogus": 1}).status_code == 400
    assert api.get(f"{V}/limits/").status_code == 503
    assert client.get("/_emulator/calls").json == {"limits": 1, "token": 1}
    state = client.get("/_emulator/state").json
    assert state["faults"]["unavailable"] == 0 and state["options"]["client_id"] == "emulator-client-id"
    assert client.post("/_emulator/expire-sessions").status_code == 204
    assert api.get(f"{V}/limits/").status_code == 401
    assert client.post("/_emulator/revoke-refresh-tokens").status_code == 204
    assert client.post("/_emulator/reset").status_code == 204
    assert client.get("/_emulator/calls").json == {}
    assert app.emulator.api_used == 0


def test_call_counts_per_endpoint(api, app):
    api.get(f"{V}/query/", query_string={"q": "SELECT Id FROM Contact"})
    api.get(f"{V}/sobjects/Contact/describe")
    api.patch(f"{V}/sobjects/Contact/External_Id__c/abc", json={"LastName": "x"})
    assert {k: app.emulator.calls[k] for k in ("query", "sobject_describe", "sobject_upsert", "token")} == {
        "query": 1, "sobject_describe": 1, "sobject_upsert": 1, "token": 1}


def test_cli_reads_flags_and_environment(monkeypatch):
    seen = {}

    class FakeServer:
        server_port = 4321

        def serve_forever(self):
            raise KeyboardInterrupt

        def server_close(self):
            seen["closed"] = True

    def fake_make_server(host, port, app, **kwargs):
        seen.update(host=host, port=port, options=app.emulator.options)
        return FakeServer()

    monkeypatch.setattr("webapp.emulator.cli.make_server", fake_make_server)
    runner = CliRunner()
    result = runner.invoke(salesforce_emulator, [
        "--port", "0", "--contacts", "25", "--accounts", "5", "--opportunities", "5",
        "--redirect-uri", "https://a.example/cb", "--redirect-uri", "https://b.example/cb"],
        env={"SF_EMULATOR_CLIENT_SECRET": "from-env", "SF_EMULATOR_MULTI_CURRENCY": "1",
             "SF_EMULATOR_LATENCY_MS": "5"})
    assert result.exit_code == 0, result.output
    options = seen["options"]
    assert (options.client_secret, options.multi_currency, options.latency_ms) == ("from-env", True, 5)
    assert options.redirect_uris == ["https://a.example/cb", "https://b.example/cb"]
    assert "http://127.0.0.1:4321" in result.output and "from-env" in result.output
    assert "25 contacts" in result.output and seen["closed"]


def test_cli_help_lists_environment_variables():
    result = CliRunner().invoke(salesforce_emulator, ["--help"])
    assert result.exit_code == 0 and "SF_EMULATOR_PORT" in result.output


def test_describe_prints_what_to_connect_with():
    text = describe("http://127.0.0.1:5001", EmulatorOptions())
    for expected in ("emulator-client-id", "emulator-client-secret", "admin@emulator.test", "emulator",
                     "http://127.0.0.1:5000/oauth/salesforce/callback", "60 accounts", "300 contacts"):
        assert expected in text


@pytest.mark.parametrize("values", [{"unavailable": -1}, {"lock_rows": "2"}, {"latency_ms": None}])
def test_fault_values_are_checked(app, values):
    with pytest.raises(ValueError):
        app.emulator.set_faults(**values)
