"""`salesforce-emulator`: serve the emulator until interrupted, printing what to connect with.

Every flag can also come from the environment as SF_EMULATOR_<FLAG>, e.g. SF_EMULATOR_PORT.
"""

from __future__ import annotations

import ssl

import click
from werkzeug.serving import make_server

from . import create_emulator_app, duplicates, org
from .options import DEFAULT_REDIRECT_URIS, EmulatorOptions

DEFAULTS = EmulatorOptions()


def _option(*decls, **kwargs):
    name = decls[0].lstrip("-").split("/")[0].replace("-", "_").upper()
    kwargs.setdefault("show_default", True)
    return click.option(*decls, envvar=f"SF_EMULATOR_{name}", show_envvar=True, **kwargs)


@click.command("salesforce-emulator")
@_option("--host", default="127.0.0.1", help="Interface to listen on.")
@_option("--port", type=int, default=5001, help="Port to listen on (0 picks a free one).")
@_option("--client-id", default=DEFAULTS.client_id, help="External Client App consumer key.")
@_option("--client-secret", default=DEFAULTS.client_secret, help="Consumer secret.")
@_option("--redirect-uri", "redirect_uris", multiple=True, default=DEFAULT_REDIRECT_URIS,
         help="Allowed callback URL (repeatable).")
@_option("--username", default=DEFAULTS.username, help="The org user's login.")
@_option("--password", default=DEFAULTS.password, help="The org user's password.")
@_option("--seed", type=int, default=DEFAULTS.seed, help="Seed of the generated org.")
@_option("--accounts", type=int, default=DEFAULTS.accounts, help="Accounts to generate.")
@_option("--contacts", type=int, default=DEFAULTS.contacts, help="Contacts to generate.")
@_option("--opportunities", type=int, default=DEFAULTS.opportunities,
         help="Opportunities to generate.")
@_option("--leads", type=click.IntRange(min=0), default=None,
         help="Leads to generate (default: one for every six contacts).")
@_option("--multi-currency/--single-currency", default=False,
         help="Turn on multi-currency (CurrencyIsoCode, CurrencyType).")
@_option("--enhanced-email/--no-enhanced-email", default=True,
         help="Enhanced Email: EmailMessage and EmailMessageRelation are available.")
@_option("--latency-ms", type=int, default=0, help="Delay added to every API call.")
@_option("--session-seconds", type=int, default=DEFAULTS.session_seconds,
         help="Access-token lifetime.")
@_option("--rotate-refresh-tokens/--no-rotate-refresh-tokens", default=False,
         help="Return a new refresh token on every refresh and invalidate the old one.")
@_option("--api-daily-limit", type=int, default=DEFAULTS.api_daily_limit,
         help="DailyApiRequests allowance.")
@_option("--fail-after", type=int, default=None,
         help="Answer REQUEST_LIMIT_EXCEEDED once this many API calls were made.")
@_option("--unavailable", type=int, default=0, help="Answer the first N calls with 503.")
@_option("--edge-502", type=int, default=0, help="Answer the first N calls with an HTML 502.")
@_option("--lock-rows", type=int, default=0,
         help="Fail the first N writes with UNABLE_TO_LOCK_ROW.")
@_option("--max-version", default=None, help="Serve API versions up to this one only, e.g. 63.0.")
@_option("--refuse-sessions", type=int, default=0,
         help="Answer the first N data API calls with 401 INVALID_SESSION_ID, even for fresh tokens.")
@_option("--after-commit-502", type=int, default=0,
         help="Make the first N writes, then answer them with an HTML 502.")
@_option("--after-commit-503", type=int, default=0, help="Make the first N writes, then answer them with 503.")
@_option("--after-commit-drop", type=int, default=0,
         help="Make the first N writes, then drop the connection without an answer.")
@_option("--duplicate-rule", "duplicate_rules", multiple=True, metavar="OBJECT=block|alert",
         help="Turn on a duplicate rule: Contact or Lead by Email, Account by Name (repeatable).")
@_option("--cert", type=click.Path(exists=True, dir_okay=False), default=None,
         help="PEM certificate to serve https with (needs --key).")
@_option("--key", type=click.Path(exists=True, dir_okay=False), default=None,
         help="PEM private key for --cert.")
def salesforce_emulator(host, port, cert, key, **settings):
    """Run a Salesforce emulator (OAuth, REST, SOQL) on a seeded org."""
    settings["redirect_uris"] = list(settings["redirect_uris"])
    settings["duplicate_rules"] = _duplicate_rules(settings["duplicate_rules"])
    options = EmulatorOptions(**settings)
    context = None
    if cert:
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        context.load_cert_chain(cert, key)
    app = create_emulator_app(options)
    server = make_server(host, port, app, threaded=True, ssl_context=context)
    url = f"{'https' if context else 'http'}://{host}:{server.server_port}"
    click.echo(describe(url, options))
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()


def _duplicate_rules(values) -> dict[str, str]:
    rules = {}
    for value in values:
        name, _, action = value.partition("=")
        rules[name.strip()] = action.strip()
    try:
        return duplicates.check_actions(rules)
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint="--duplicate-rule") from None


def describe(url: str, options: EmulatorOptions) -> str:
    faults = (f"latency {options.latency_ms} ms, fail after "
              f"{options.fail_after if options.fail_after is not None else 'never'}, "
              f"503 x{options.unavailable}, 502 x{options.edge_502}, lock x{options.lock_rows}")
    lines = [
        "Salesforce emulator",
        f"  Instance and login URL: {url}",
        f"  Authorize URL:          {url}/services/oauth2/authorize",
        f"  Token URL:              {url}/services/oauth2/token",
        f"  Client id:              {options.client_id}",
        f"  Client secret:          {options.client_secret}",
        f"  Username:               {options.username}",
        f"  Password:               {options.password}",
        f"  Redirect URIs:          {', '.join(options.redirect_uris)}",
        f"  Org:                    seed {options.seed}, {options.accounts} accounts, "
        f"{options.contacts} contacts, {options.opportunities} opportunities, "
        f"{org.lead_count(options.contacts, options.leads)} leads, "
        f"{'multi' if options.multi_currency else 'single'}-currency; Enhanced Email "
        f"{'on' if options.enhanced_email else 'off'}",
        f"  Sessions:               {options.session_seconds} s; refresh-token rotation "
        f"{'on' if options.rotate_refresh_tokens else 'off'}; "
        f"{options.api_daily_limit} API calls a day",
        f"  Faults:                 {faults}",
        f"  Duplicate rules:        "
        f"{', '.join(f'{k} {v}' for k, v in options.duplicate_rules.items()) or 'none'}",
        f"  Admin:                  {url}/_emulator/state",
    ]
    return "\n".join(lines)
