"""Deterministic seeded org data for the Salesforce emulator.

`generate_org(seed, accounts, contacts, opportunities)` returns a dict mapping each sObject
name to a list of record dicts keyed by Salesforce API field names. Datetime fields hold
timezone-aware UTC `datetime` values (whole seconds, as Salesforce stores them), date fields
hold `date` values, and empty fields hold `None`. The same arguments always give the same
ids, names and emails; dates are laid out relative to `now` (default: the current hour), so
close dates stay "in the past and next year" whenever the org is generated.

Edge cases are placed at fixed positions so that every org of demo size or larger has them:
contacts without an account, emails with an apostrophe or a plus sign, two contacts sharing
an email, mixed-case emails, free-mail addresses, accounts with many opportunities and
soft-deleted records.
"""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta

DEMO_ORG = dict(seed=42, accounts=60, contacts=300, opportunities=180)
BENCHMARK_ORG = dict(seed=42, accounts=25_000, contacts=100_000, opportunities=50_000)

ORG_ID = "00D5g00000EmuLaEAJ"
DEFAULT_USERNAME = "admin@emulator.test"
CORPORATE_CURRENCY = "USD"

# The default stages of a new org: (label, IsClosed, IsWon, DefaultProbability, forecast).
STAGES = [
    ("Prospecting", False, False, 10, "Pipeline"),
    ("Qualification", False, False, 10, "Pipeline"),
    ("Needs Analysis", False, False, 20, "Pipeline"),
    ("Value Proposition", False, False, 50, "Pipeline"),
    ("Id. Decision Makers", False, False, 60, "Pipeline"),
    ("Perception Analysis", False, False, 70, "Pipeline"),
    ("Proposal/Price Quote", False, False, 75, "Pipeline"),
    ("Negotiation/Review", False, False, 90, "Pipeline"),
    ("Closed Won", True, True, 100, "Closed"),
    ("Closed Lost", True, False, 0, "Omitted"),
]
STAGE_BY_NAME = {s[0]: s for s in STAGES}

ACCOUNT_TYPES = ["Enterprise", "Mid-Market", "SMB", "Partner"]
INDUSTRIES = [
    "Agriculture", "Apparel", "Banking", "Biotechnology", "Chemicals", "Communications",
    "Construction", "Consulting", "Education", "Electronics", "Energy", "Engineering",
    "Entertainment", "Environmental", "Finance", "Food & Beverage", "Government",
    "Healthcare", "Hospitality", "Insurance", "Machinery", "Manufacturing", "Media",
    "Not For Profit", "Other", "Recreation", "Retail", "Shipping", "Technology",
    "Telecommunications", "Transportation", "Utilities",
]
LEAD_SOURCES = ["Web", "Phone Inquiry", "Partner Referral", "Purchased List", "Other"]
OPPORTUNITY_TYPES = [
    "New Customer", "Existing Customer - Upgrade", "Existing Customer - Replacement",
    "Existing Customer - Downgrade",
]
SALUTATIONS = ["Mr.", "Ms.", "Mrs.", "Dr.", "Prof."]
# The default values of a new org's Lead and Task picklists.
LEAD_STATUSES = ["Open - Not Contacted", "Working - Contacted", "Closed - Converted",
                 "Closed - Not Converted"]
LEAD_CONVERTED_STATUS = "Closed - Converted"
TASK_STATUSES = ["Not Started", "In Progress", "Completed", "Waiting on someone else", "Deferred"]
TASK_CLOSED_STATUSES = {"Completed"}
TASK_PRIORITIES = ["High", "Normal", "Low"]
TASK_SUBTYPES = ["Task", "Email", "ListEmail", "Cadence", "Call", "LinkedIn"]
EMAIL_STATUSES = [("0", "New"), ("1", "Read"), ("2", "Replied"), ("3", "Sent"), ("4", "Forwarded"),
                  ("5", "Draft")]
EMAIL_DRAFT = "5"
CURRENCIES = [  # (IsoCode, ConversionRate to the corporate currency, DecimalPlaces)
    ("USD", 1.0, 2), ("EUR", 0.92, 2), ("GBP", 0.79, 2), ("JPY", 151.3, 0), ("CAD", 1.36, 2),
]
FREE_MAIL = ["gmail.com", "outlook.com", "yahoo.com"]

FIRST_NAMES = """James Mary Robert Patricia John Jennifer Michael Linda David Elizabeth William
Barbara Richard Susan Joseph Jessica Thomas Sarah Charles Karen Christopher Lisa Daniel Nancy
Matthew Betty Anthony Sandra Mark Margaret Donald Ashley Steven Kimberly Andrew Emily Paul Donna
Joshua Michelle Kenneth Carol Kevin Amanda Brian Melissa George Deborah Timothy Stephanie Ronald
Rebecca Jason Sharon Edward Laura Jeffrey Cynthia Ryan Amy Jacob Kathleen Gary Angela Nicholas
Shirley Eric Brenda Jonathan Emma Stephen Anna Larry Pamela Justin Nicole Scott Samantha Brandon
Katherine Benjamin Christine Samuel Helen Gregory Debra Alexander Rachel Patrick Carolyn Frank
Janet Raymond Maria Jack Olivia Dennis Heather Jerry Diane Tyler Julie Aaron Joyce Jose Victoria
Adam Ruth Nathan Virginia Henry Lauren Zachary Kelly Douglas Christina Peter Joan Kyle Evelyn
Noah Judith Ethan Andrea Jeremy Hannah Walter Megan Christian Cheryl Keith Jacqueline Roger
Martha Terry Madison Austin Teresa Sean Gloria Gerald Sara Carl Janice Harold Ann Dylan Kathryn
Arthur Abigail Lawrence Sophia Jordan Frances Jesse Jean Bryan Alice Billy Judy Bruce Isabella
Gabriel Julia Joe Grace Logan Amber Alan Denise Juan Danielle Albert Marilyn Willie Beverly
Elijah Charlotte Wayne Natalie Randy Theresa Vincent Diana Mason Brittany Roy Doris Ralph Kayla
Bobby Alexis Russell Lori Bradley Marie Philip Zoe Eugene Renee Amelie Jose Rene Chloe""".split()
LAST_NAMES = """Smith Johnson Williams Brown Jones Garcia Miller Davis Rodriguez Martinez
Hernandez Lopez Gonzalez Wilson Anderson Thomas Taylor Moore Jackson Martin Lee Perez Thompson
White Harris Sanchez Clark Ramirez Lewis Robinson Walker Young Allen King Wright Scott Torres
Nguyen Hill Flores Green Adams Nelson Baker Hall Rivera Campbell Mitchell Carter Roberts Gomez
Phillips Evans Turner Diaz Parker Cruz Edwards Collins Reyes Stewart Morris Morales Murphy Cook
Rogers Gutierrez Ortiz Morgan Cooper Peterson Bailey Reed Kelly Howard Ramos Kim Cox Ward
Richardson Watson Brooks Chavez Wood James Bennett Gray Mendoza Ruiz Hughes Price Alvarez
Castillo Sanders Patel Myers Long Ross Foster Jimenez Powell Jenkins Perry Russell Sullivan Bell
Coleman Butler Henderson Barnes Gonzales Fisher Vasquez Simmons Romero Jordan Patterson
Alexander Hamilton Graham Reynolds Griffin Wallace West Cole Hayes Bryant Herrera Gibson Ellis
Tran Medina Aguilar Stevens Murray Ford Castro Marshall Owens Harrison Fernandez McDonald
Woods Washington Kennedy Wells Vargas Henry Chen Freeman Webb Tucker Guzman Burns Crawford
Olson Simpson Porter Hunter Gordon Mendez Silva Shaw Snyder Mason Dixon Munoz Hunt Hicks Holmes
Palmer Wagner Black Robertson Boyd Rose Stone Salazar Fox Warren Mills Meyer Rice Schmidt
Garza Daniels Ferguson Nichols Stephens Soto Weaver Ryan Gardner Payne Grant Dunn Kelley
Spencer Hawkins Arnold Pierce Hansen Peters Santos Hart Bradley Knight Elliott Cunningham
Duncan Armstrong Hudson Carroll Lane Riley Andrews Ray Berry Perkins Hoffman Johnston Matthews
Pena Richards Willis Carpenter Lawrence Sandoval""".split()
APOSTROPHE_NAMES = ["O'Brien", "D'Angelo", "O'Neil", "D'Souza", "O'Connor", "L'Estrange"]
COMPANY_WORDS = """Acme Apex Summit Pioneer Harbor Granite Silver Cedar Falcon Beacon Crest
Evergreen Horizon Ironwood Juniper Keystone Lakeside Meridian Northwind Oakridge Pinnacle
Quantum Redwood Sapphire Sterling Trident Unity Vanguard Willow Zenith Blue Bright Clear Copper
Crimson Delta Eagle Echo Ember Fusion Global Golden Green Highland Insight Lumen Maple Nova
Orbit Pacific Polar Prairie Prime Radiant Riverbend Sierra Solstice Stellar Swift Tidal True
Velocity Vertex Vista Wave""".split()
COMPANY_NOUNS = """Analytics Logistics Systems Dynamics Networks Labs Foods Health Energy
Robotics Media Capital Partners Software Devices Materials Motors Outfitters Foundry Works
Biotech Pharma Telecom Airlines Foods Brewing Textiles Solutions Security Consulting Insurance
Bank Realty Freight Marine Studios Learning Farms Power Water Metals Optics Cloud Data Retail
Apparel Hotels Clinics""".split()
COMPANY_SUFFIXES = ["Inc.", "LLC", "Corp.", "Ltd.", "Group", "Co.", "GmbH", "plc", "", "", ""]
TITLES = [
    "CEO", "CFO", "CTO", "COO", "VP Sales", "VP Marketing", "VP Engineering",
    "Director of Operations", "Head of Procurement", "Purchasing Manager", "IT Manager",
    "Sales Manager", "Account Executive", "Marketing Manager", "Product Manager",
    "Office Manager", "Operations Analyst", "Software Engineer", "Finance Director", "Buyer",
    "Controller", "Customer Success Manager", "Chief Revenue Officer",
]
DEPARTMENTS = ["Sales", "Marketing", "Finance", "Engineering", "Operations", "IT", "Procurement"]
CITIES = [
    ("San Francisco", "CA", "United States"), ("New York", "NY", "United States"),
    ("Austin", "TX", "United States"), ("Chicago", "IL", "United States"),
    ("Seattle", "WA", "United States"), ("Boston", "MA", "United States"),
    ("Toronto", "ON", "Canada"), ("London", None, "United Kingdom"),
    ("Berlin", None, "Germany"), ("Paris", None, "France"), ("Tokyo", None, "Japan"),
]
STREETS = ["Main St", "Market St", "Oak Ave", "Pine St", "Harbor Blvd", "Mission St", "2nd Ave"]
OPPORTUNITY_PRODUCTS = [
    "Platform License", "Renewal", "Expansion", "Pilot", "Support Plan", "Onboarding",
    "Add-on Seats", "Enterprise Agreement", "Integration Services", "Upgrade",
]
SALES_REPS = [
    ("Avery", "Stone"), ("Jordan", "Reyes"), ("Morgan", "Blake"), ("Casey", "Nguyen"),
    ("Riley", "Okafor"),
]

_ID_SUFFIX_CHARS = "ABCDEFGHIJKLMNOPQRSTUVWXYZ012345"
_BASE62 = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"


_UPPER_AS_ONE = str.maketrans({c: "1" if c.isupper() else "0" for c in _BASE62})


def id_suffix(id15: str) -> str:
    """The three-character case-safe suffix that turns a 15-char id into an 18-char one:
    per 5-char chunk, a bit for each uppercase letter (first char = lowest bit)."""
    return "".join(_ID_SUFFIX_CHARS[int(id15[i:i + 5].translate(_UPPER_AS_ONE)[::-1], 2)]
                   for i in (0, 5, 10))


def make_id(prefix: str, number: int) -> str:
    """An 18-char Salesforce id: key prefix, a fixed pod/instance part, a base62 counter."""
    digits = ""
    while number:
        number, rem = divmod(number, 62)
        digits = _BASE62[rem] + digits
    id15 = prefix + "5g0E" + digits.rjust(8, "0")
    return id15 + id_suffix(id15)


def _slug(text: str) -> str:
    return "".join(ch for ch in text.lower() if ch.isalnum())


def _at(now: datetime, rng: random.Random, min_days: float, max_days: float) -> datetime:
    """A whole-second instant between `max_days` and `min_days` before `now`."""
    seconds = int(rng.uniform(min_days, max_days) * 86400)
    return now - timedelta(seconds=seconds)


def _stamps(record: dict, created: datetime, modified: datetime, user_id: str) -> dict:
    record.update(
        CreatedDate=created, CreatedById=user_id, LastModifiedDate=modified,
        LastModifiedById=user_id, SystemModstamp=modified,
    )
    return record


def lead_count(contacts: int, leads: int | None) -> int:
    """Leads of an org: as asked, else one for every six contacts."""
    return contacts // 6 if leads is None else leads


def generate_org(seed: int, accounts: int, contacts: int, opportunities: int,
                 multi_currency: bool = False, *, now: datetime | None = None,
                 admin_username: str = DEFAULT_USERNAME,
                 leads: int | None = None) -> dict[str, list[dict]]:
    """Build a whole org: {sObject name: [record dict, ...]} (see the module docstring)."""
    rng = random.Random(seed)
    now = (now or datetime.now(UTC)).replace(minute=0, second=0, microsecond=0)
    org_created = now - timedelta(days=900)
    ccy = (lambda code: {"CurrencyIsoCode": code}) if multi_currency else (lambda code: {})

    users = _users(now, org_created, admin_username, ccy)
    admin_id = users[0]["Id"]
    rep_ids = [u["Id"] for u in users[1:]]
    org = {
        "Organization": [_organization(org_created, admin_id)],
        "User": users,
        "OpportunityStage": _stages(org_created, admin_id),
    }
    if multi_currency:
        org["CurrencyType"] = _currencies(org_created, admin_id)

    org["Account"] = _accounts(rng, now, accounts, rep_ids, ccy)
    org["Contact"] = _contacts(rng, now, contacts, org["Account"], rep_ids, ccy)
    org["Opportunity"], org["OpportunityHistory"] = _opportunities(
        rng, now, opportunities, org["Account"], rep_ids, multi_currency)
    # Leads draw from their own generator, so the records above are the same with or
    # without them.
    org["Lead"] = _leads(random.Random(f"{seed}:leads"), now, lead_count(contacts, leads),
                         org["Contact"], org["Account"], rep_ids, ccy)
    org["Task"], org["EmailMessage"], org["EmailMessageRelation"] = [], [], []
    return org


def _organization(created: datetime, admin_id: str) -> dict:
    return _stamps({
        "Id": ORG_ID, "Name": "Emulator Org", "OrganizationType": "Developer Edition",
        "InstanceName": "EMU1", "IsSandbox": False, "DefaultCurrencyIsoCode": CORPORATE_CURRENCY,
        "TimeZoneSidKey": "America/Los_Angeles", "LanguageLocaleKey": "en_US",
        "Country": "United States",
    }, created, created, admin_id)


def _users(now: datetime, created: datetime, admin_username: str, ccy) -> list[dict]:
    people = [("Emulator", "Admin", "System Administrator")] + [
        (first, last, "Account Executive") for first, last in SALES_REPS]
    users = []
    for i, (first, last, title) in enumerate(people):
        user_id = make_id("005", i + 1)
        email = admin_username if i == 0 else f"{first.lower()}.{last.lower()}@emulator.test"
        users.append(_stamps({
            "Id": user_id, "Username": email, "FirstName": first, "LastName": last,
            "Name": f"{first} {last}", "Email": email, "Alias": (first[0] + last[:4]).lower(),
            "Title": title, "IsActive": True, "UserType": "Standard",
            "TimeZoneSidKey": "America/Los_Angeles", "LocaleSidKey": "en_US",
            "LanguageLocaleKey": "en_US", **ccy(CORPORATE_CURRENCY),
        }, created, created, make_id("005", 1)))
    return users


def _stages(created: datetime, admin_id: str) -> list[dict]:
    return [_stamps({
        "Id": make_id("01J", i + 1), "MasterLabel": label, "ApiName": label,
        "IsActive": True, "IsClosed": closed, "IsWon": won, "DefaultProbability": prob,
        "ForecastCategory": forecast, "ForecastCategoryName": forecast,
        "SortOrder": i + 1, "Description": None,
    }, created, created, admin_id) for i, (label, closed, won, prob, forecast) in enumerate(STAGES)]


def _currencies(created: datetime, admin_id: str) -> list[dict]:
    return [_stamps({
        "Id": make_id("01L", i + 1), "IsoCode": code, "ConversionRate": rate,
        "DecimalPlaces": places, "IsActive": True, "IsCorporate": code == CORPORATE_CURRENCY,
    }, created, created, admin_id) for i, (code, rate, places) in enumerate(CURRENCIES)]


def _accounts(rng: random.Random, now: datetime, count: int, rep_ids: list[str],
              ccy) -> list[dict]:
    records, used = [], set()
    for i in range(count):
        name = _company_name(rng, used)
        domain = _slug(name.rsplit(" ", 1)[0] if name.split(" ")[-1] in COMPANY_SUFFIXES
                       else name) + rng.choice([".com", ".com", ".com", ".io", ".net", ".co"])
        city, state, country = rng.choice(CITIES)
        kind = rng.choices(ACCOUNT_TYPES, weights=[2, 3, 5, 1])[0]
        employees = {"Enterprise": (2000, 90000), "Mid-Market": (200, 2000),
                     "SMB": (5, 200), "Partner": (20, 5000)}[kind]
        n_emp = rng.randint(*employees)
        created = _at(now, rng, 30, 800)
        modified = min(now, created + timedelta(seconds=int(rng.uniform(0, 400) * 86400)))
        record = _stamps({
            "Id": make_id("001", i + 1), "IsDeleted": False, "Name": name, "Type": kind,
            "Industry": rng.choice(INDUSTRIES), "Website": f"https://www.{domain}",
            "Phone": _phone(rng), "BillingStreet": f"{rng.randint(1, 999)} {rng.choice(STREETS)}",
            "BillingCity": city, "BillingState": state, "BillingPostalCode": f"{rng.randint(10000, 99999)}",
            "BillingCountry": country, "AnnualRevenue": n_emp * rng.randint(80, 400) * 1000,
            "NumberOfEmployees": n_emp, "Description": None, "OwnerId": rng.choice(rep_ids),
            "External_Id__c": None, **ccy(CORPORATE_CURRENCY),
        }, created, modified, rng.choice(rep_ids))
        record["_domain"] = domain
        records.append(record)
    # Soft-deleted accounts (and, below, contacts and opportunities) for queryAll and
    # getDeleted; recently enough to still be in the recycle bin.
    for record in records[7::97]:
        _delete(rng, now, record)
    for record in records:
        del record["_domain"]
    return records


def _company_name(rng: random.Random, used: set[str]) -> str:
    while True:
        base = f"{rng.choice(COMPANY_WORDS)} {rng.choice(COMPANY_NOUNS)}"
        suffix = rng.choice(COMPANY_SUFFIXES)
        if base not in used:
            used.add(base)
            return f"{base} {suffix}".strip()
        if len(used) > len(COMPANY_WORDS) * len(COMPANY_NOUNS) * 0.8:
            # Past the combinations of two words: add a third so names stay unique.
            base = f"{base} {rng.choice(COMPANY_WORDS)}"
            if base not in used:
                used.add(base)
                return f"{base} {suffix}".strip()


def _delete(rng: random.Random, now: datetime, record: dict) -> None:
    when = _at(now, rng, 0.5, 10)
    record["IsDeleted"] = True
    record["LastModifiedDate"] = record["SystemModstamp"] = max(when, record["CreatedDate"])


def _phone(rng: random.Random) -> str:
    return f"({rng.randint(201, 989)}) 555-{rng.randint(0, 9999):04d}"


def _contacts(rng: random.Random, now: datetime, count: int, accounts: list[dict],
              rep_ids: list[str], ccy) -> list[dict]:
    live_accounts = [a for a in accounts if not a["IsDeleted"]] or [None]
    records, emails = [], []
    for i in range(count):
        first, last = rng.choice(FIRST_NAMES), rng.choice(LAST_NAMES)
        if i % 40 == 3:
            last = rng.choice(APOSTROPHE_NAMES)
        account = None if i % 20 == 11 else rng.choice(live_accounts)
        domain = account["Website"][len("https://www."):] if account else rng.choice(FREE_MAIL)
        if account and i % 25 == 9:
            domain = rng.choice(FREE_MAIL)
        local = _email_local(rng, first, last, domain, i)
        email = f"{local}@{domain}"
        if i % 30 == 17:
            email = local.title() + "@" + domain  # mixed case: Salesforce keeps what was typed
        if i % 50 == 29 and emails:
            email = emails[-1]  # two contacts sharing one email
        if i % 100 == 61:
            email = None
        emails.append(email)
        created = _at(now, rng, 1, 700)
        modified = min(now, created + timedelta(seconds=int(rng.uniform(0, 300) * 86400)))
        city, state, country = rng.choice(CITIES)
        record = _stamps({
            "Id": make_id("003", i + 1), "IsDeleted": False,
            "AccountId": account["Id"] if account else None, "Salutation": rng.choice(SALUTATIONS),
            "FirstName": first, "LastName": last, "Name": f"{first} {last}", "Email": email,
            "Phone": _phone(rng), "MobilePhone": _phone(rng) if rng.random() < 0.4 else None,
            "Title": rng.choice(TITLES) if rng.random() < 0.9 else None,
            "Department": rng.choice(DEPARTMENTS) if rng.random() < 0.6 else None,
            "LeadSource": rng.choice(LEAD_SOURCES) if rng.random() < 0.85 else None,
            "MailingCity": city, "MailingState": state, "MailingCountry": country,
            "Description": None, "OwnerId": account["OwnerId"] if account else rng.choice(rep_ids),
            "External_Id__c": None, **ccy(CORPORATE_CURRENCY),
        }, created, modified, rng.choice(rep_ids))
        records.append(record)
    for record in records[13::83]:
        _delete(rng, now, record)
    return records


def _leads(rng: random.Random, now: datetime, count: int, contacts: list[dict],
           accounts: list[dict], rep_ids: list[str], ccy) -> list[dict]:
    """Prospects: emails no contact has, a converted lead every seventh (pointing at a live
    contact and its account), pairs of leads sharing one email, a few without an email and
    a few soft-deleted."""
    taken = {c["Email"].lower() for c in contacts if c.get("Email")}
    convertible = [c for c in contacts if not c["IsDeleted"] and c.get("AccountId")]
    account_by_id = {a["Id"]: a for a in accounts}
    used_companies = {" ".join(a["Name"].split()[:2]) for a in accounts}
    statuses = [s for s in LEAD_STATUSES if s != LEAD_CONVERTED_STATUS]
    records: list[dict] = []

    def fresh(address: str) -> str:
        local, _, domain = address.partition("@")
        n = 1
        while address.lower() in taken:
            n += 1
            address = f"{local}{n}@{domain}"
        taken.add(address.lower())
        return address

    for i in range(count):
        first, last = rng.choice(FIRST_NAMES), rng.choice(LAST_NAMES)
        company = _company_name(rng, used_companies)
        domain = _slug(company.rsplit(" ", 1)[0] if company.split(" ")[-1] in COMPANY_SUFFIXES
                       else company) + rng.choice([".com", ".io", ".net"])
        converted = i % 7 == 3 and bool(convertible)
        contact = rng.choice(convertible) if converted else None
        if contact:
            first, last = contact.get("FirstName") or first, contact["LastName"]
            company = account_by_id[contact["AccountId"]]["Name"]
        local = f"{_slug(first)}.{_slug(last)}" if rng.random() < 0.7 else _slug(first)
        email = fresh(f"{local}@{domain}")
        if i % 25 == 12 and records and records[-1]["Email"]:
            email = records[-1]["Email"]  # a duplicate lead: same person, same email
        if i % 31 == 29:
            email = None
        created = _at(now, rng, 1, 400)
        modified = min(now, created + timedelta(seconds=int(rng.uniform(0, 60) * 86400)))
        city, state, country = rng.choice(CITIES)
        record = _stamps({
            "Id": make_id("00Q", i + 1), "IsDeleted": False,
            "Salutation": rng.choice(SALUTATIONS), "FirstName": first, "LastName": last,
            "Name": f"{first} {last}", "Title": rng.choice(TITLES), "Company": company,
            "Email": email, "Phone": _phone(rng),
            "MobilePhone": _phone(rng) if rng.random() < 0.3 else None,
            "Website": f"https://www.{domain}", "City": city, "State": state,
            "Country": country, "LeadSource": rng.choice(LEAD_SOURCES),
            "Status": LEAD_CONVERTED_STATUS if contact else rng.choices(
                statuses, weights=[5, 4, 2])[0],
            "Industry": rng.choice(INDUSTRIES), "Rating": rng.choice(["Hot", "Warm", "Cold"]),
            "NumberOfEmployees": rng.randint(5, 5000), "Description": None,
            "OwnerId": rng.choice(rep_ids), "IsConverted": contact is not None,
            "ConvertedDate": modified.date() if contact else None,
            "ConvertedAccountId": contact["AccountId"] if contact else None,
            "ConvertedContactId": contact["Id"] if contact else None,
            "ConvertedOpportunityId": None, "IsUnreadByOwner": False,
            **ccy(CORPORATE_CURRENCY),
        }, created, modified, rng.choice(rep_ids))
        records.append(record)
    for record in records[16::89]:
        if not record["IsConverted"]:
            _delete(rng, now, record)
    return records


def _email_local(rng: random.Random, first: str, last: str, domain: str, i: int) -> str:
    first_l, last_l = first.lower(), last.lower().replace(" ", "")
    if "'" not in last_l:
        last_l = _slug(last_l)
    if i % 40 == 23:
        return f"{first_l}.{last_l}+{rng.choice(['sales', 'billing', 'news', 'crm'])}"
    style = rng.random()
    if domain in FREE_MAIL:
        return f"{first_l}.{last_l}{rng.randint(1, 999)}"
    if style < 0.6:
        return f"{first_l}.{last_l}"
    if style < 0.85:
        return f"{first_l[0]}{last_l}"
    return f"{first_l}"


def _opportunities(rng: random.Random, now: datetime, count: int, accounts: list[dict],
                   rep_ids: list[str], multi_currency: bool) -> tuple[list[dict], list[dict]]:
    live_accounts = [a for a in accounts if not a["IsDeleted"]]
    if not live_accounts:
        return [], []
    # A few accounts get many opportunities (a long tail, like a real book of business).
    weights = [1.0 / (rank + 1) ** 0.8 for rank in range(len(live_accounts))]
    chosen = rng.choices(live_accounts, weights=weights, k=count)
    stage_weights = [9, 7, 6, 5, 4, 3, 5, 4, 30, 27]
    opps, history = [], []
    for i, account in enumerate(chosen):
        label = rng.choices([s[0] for s in STAGES], weights=stage_weights)[0]
        _, closed, won, prob, forecast = STAGE_BY_NAME[label]
        created = _at(now, rng, 20, 720)
        if closed:
            close = (created + timedelta(days=rng.randint(15, 200))).date()
            close = min(close, now.date())
        else:
            close = (now + timedelta(days=rng.randint(-20, 365))).date()
        modified = min(now, datetime.combine(close, datetime.min.time(), UTC)
                       + timedelta(seconds=rng.randint(0, 86399)))
        modified = max(modified, created)
        amount = _amount(rng, account["Type"])
        currency = CORPORATE_CURRENCY
        if multi_currency and rng.random() < 0.25:
            currency = rng.choice(CURRENCIES[1:])[0]
        opp = _stamps({
            "Id": make_id("006", i + 1), "IsDeleted": False, "AccountId": account["Id"],
            "Name": f"{account['Name']} - {rng.choice(OPPORTUNITY_PRODUCTS)}",
            "Description": None, "StageName": label, "Amount": amount, "Probability": prob,
            "ExpectedRevenue": amount * prob / 100, "CloseDate": close,
            "Type": rng.choice(OPPORTUNITY_TYPES), "NextStep": None if closed else "Follow up",
            "LeadSource": rng.choice(LEAD_SOURCES), "IsClosed": closed, "IsWon": won,
            "ForecastCategory": forecast, "ForecastCategoryName": forecast,
            "OwnerId": account["OwnerId"], "Inbox_Deal_Id__c": None,
            **({"CurrencyIsoCode": currency} if multi_currency else {}),
        }, created, modified, account["OwnerId"])
        opps.append(opp)
        history.extend(_history(rng, opp, len(history), multi_currency))
    for opp in opps[5::71]:
        _delete(rng, now, opp)
    return opps, history


def _amount(rng: random.Random, account_type: str) -> float:
    low, high = {"Enterprise": (40_000, 900_000), "Mid-Market": (10_000, 150_000),
                 "SMB": (1_000, 25_000), "Partner": (5_000, 80_000)}[account_type]
    return float(round(rng.uniform(low, high), -2))


def _history(rng: random.Random, opp: dict, start: int, multi_currency: bool) -> list[dict]:
    """Stage-change rows from Prospecting up to the opportunity's current stage."""
    labels = [s[0] for s in STAGES[:8]]
    current = opp["StageName"]
    if current in labels:
        path = labels[: labels.index(current) + 1]
    else:
        path = labels[: rng.randint(1, 8)] + [current]
    # Keep history short on big orgs: the first step, a couple of middle ones, the last.
    if len(path) > 4:
        path = [path[0]] + sorted(rng.sample(path[1:-1], 2), key=path.index) + [path[-1]]
    span = max(1.0, (opp["SystemModstamp"] - opp["CreatedDate"]).total_seconds())
    rows = []
    for step, label in enumerate(path):
        _, _, _, prob, forecast = STAGE_BY_NAME[label]
        when = opp["CreatedDate"] + timedelta(seconds=int(span * step / len(path)))
        amount = opp["Amount"]
        rows.append({
            "Id": make_id("008", start + step + 1), "IsDeleted": False,
            "OpportunityId": opp["Id"], "StageName": label, "Amount": amount,
            "ExpectedRevenue": amount * prob / 100, "CloseDate": opp["CloseDate"],
            "Probability": prob, "ForecastCategory": forecast, "CreatedDate": when,
            "CreatedById": opp["OwnerId"], "SystemModstamp": when,
            **({"CurrencyIsoCode": opp["CurrencyIsoCode"]} if multi_currency else {}),
        })
    return rows
