"""The org's sObject metadata: fields, types, relationships and the describe documents."""

from __future__ import annotations

from dataclasses import dataclass, field as dc_field

from . import org

STRING_TYPES = {"string", "email", "phone", "url", "picklist", "textarea", "combobox"}
NUMBER_TYPES = {"currency", "double", "percent", "int"}
ID_TYPES = {"id", "reference"}
SOAP_TYPES = {
    "id": "tns:ID", "reference": "tns:ID", "boolean": "xsd:boolean", "currency": "xsd:double",
    "double": "xsd:double", "percent": "xsd:double", "int": "xsd:int", "date": "xsd:date",
    "datetime": "xsd:dateTime", "address": "urn:address",
}


@dataclass
class Field:
    name: str
    type: str
    label: str = ""
    length: int = 0
    nillable: bool = True
    createable: bool = True
    updateable: bool = True
    defaulted: bool = False
    unique: bool = False
    external_id: bool = False
    id_lookup: bool = False
    custom: bool = False
    name_field: bool = False
    picklist: list[str] = dc_field(default_factory=list)
    picklist_labels: dict[str, str] = dc_field(default_factory=dict)  # value -> label, if differ
    default: object = None  # the value a defaulted field gets on create when none is sent
    restricted: bool = False
    reference_to: list[str] = dc_field(default_factory=list)
    relationship_name: str | None = None
    precision: int = 0
    scale: int = 0
    long_text: bool = False  # long text columns make Salesforce shrink query pages

    @property
    def required_on_create(self) -> bool:
        return self.createable and not self.nillable and not self.defaulted

    @property
    def polymorphic(self) -> bool:
        """A lookup to one of several objects (Task.WhoId: Contact or Lead)."""
        return len(self.reference_to) > 1

    @property
    def filterable(self) -> bool:
        return self.type != "address" and not self.long_text

    def describe(self) -> dict:
        is_text = self.type in STRING_TYPES
        return {
            "aggregatable": self.filterable, "aiPredictionField": False, "autoNumber": False,
            "byteLength": self.length * 3 if is_text else (18 if self.type in ID_TYPES else 0),
            "calculated": False, "calculatedFormula": None, "cascadeDelete": False,
            "caseSensitive": False, "compoundFieldName": None, "controllerName": None,
            "createable": self.createable, "custom": self.custom, "defaultValue": None,
            "defaultValueFormula": None, "defaultedOnCreate": self.defaulted,
            "dependentPicklist": False, "deprecatedAndHidden": False,
            "digits": 9 if self.type == "int" else 0, "displayLocationInDecimal": False,
            "encrypted": False, "externalId": self.external_id, "extraTypeInfo": None,
            "filterable": self.filterable, "filteredLookupInfo": None,
            "formulaTreatNullNumberAsZero": False, "groupable": self.type not in NUMBER_TYPES,
            "highScaleNumber": False, "htmlFormatted": False, "idLookup": self.id_lookup,
            "inlineHelpText": None, "label": self.label, "length": self.length if is_text else 0,
            "mask": None, "maskType": None, "name": self.name, "nameField": self.name_field,
            "namePointing": False, "nillable": self.nillable, "permissionable": self.nillable,
            "picklistValues": [
                {"active": True, "defaultValue": v == self.default,
                 "label": self.picklist_labels.get(v, v),
                 "validFor": None, "value": v}
                for v in self.picklist],
            "polymorphicForeignKey": self.polymorphic, "precision": self.precision,
            "queryByDistance": False, "referenceTargetField": None,
            "referenceTo": list(self.reference_to), "relationshipName": self.relationship_name,
            "relationshipOrder": None, "restrictedDelete": False,
            "restrictedPicklist": self.restricted, "scale": self.scale,
            "searchPrefilterable": False, "soapType": SOAP_TYPES.get(self.type, "xsd:string"),
            "sortable": self.filterable, "type": self.type, "unique": self.unique,
            "updateable": self.updateable, "writeRequiresMasterRead": False,
        }


@dataclass
class SObject:
    name: str
    label: str
    label_plural: str
    key_prefix: str
    fields: list[Field]
    writable: bool = False
    children: list[tuple[str, str, str]] = dc_field(default_factory=list)  # (child, field, rel)

    def __post_init__(self):
        self.by_lower = {f.name.lower(): f for f in self.fields}
        self.relationships = {f.relationship_name.lower(): f
                              for f in self.fields if f.relationship_name}

    def field(self, name: str) -> Field | None:
        return self.by_lower.get(name.lower())

    @property
    def has_is_deleted(self) -> bool:
        return "isdeleted" in self.by_lower

    def urls(self, version: str) -> dict:
        base = f"/services/data/v{version}/sobjects/{self.name}"
        return {"compactLayouts": f"{base}/describe/compactLayouts", "rowTemplate": f"{base}/{{ID}}",
                "approvalLayouts": f"{base}/describe/approvalLayouts", "describe": f"{base}/describe",
                "quickActions": f"{base}/quickActions", "layouts": f"{base}/describe/layouts",
                "sobject": base}

    def summary(self, version: str) -> dict:
        return {
            "activateable": False, "createable": self.writable, "custom": False,
            "customSetting": False, "deepCloneable": False, "deletable": self.writable,
            "deprecatedAndHidden": False, "feedEnabled": False, "hasSubtypes": False,
            "isInterface": False, "isSubtype": False, "keyPrefix": self.key_prefix,
            "label": self.label, "labelPlural": self.label_plural, "layoutable": self.writable,
            "mergeable": self.writable, "mruEnabled": self.writable, "name": self.name,
            "queryable": True, "replicateable": True, "retrieveable": True,
            "searchable": self.writable, "triggerable": self.writable,
            "undeletable": self.writable, "updateable": self.writable,
            "urls": self.urls(version),
        }

    def describe(self, version: str) -> dict:
        doc = self.summary(version)
        doc.update({
            "actionOverrides": [], "childRelationships": [
                {"cascadeDelete": True, "childSObject": child, "deprecatedAndHidden": False,
                 "field": fk, "junctionIdListNames": [], "junctionReferenceTo": [],
                 "relationshipName": rel, "restrictedDelete": False}
                for child, fk, rel in self.children],
            "compactLayoutable": self.writable, "defaultImplementation": None,
            "extendedBy": None, "extendsInterfaces": None, "fields": [f.describe() for f in self.fields],
            "implementedBy": None, "implementsInterfaces": None, "listviewable": None,
            "lookupLayoutable": None, "namedLayoutInfos": [], "networkScopeFieldName": None,
            "recordTypeInfos": [], "searchLayoutable": self.writable, "sobjectDescribeOption": "FULL",
            "supportedScopes": [{"label": "All", "name": "everything"}],
        })
        return doc


def _text(name, label, length=255, **kw):
    return Field(name, kw.pop("type", "string"), label, length, **kw)


def _ref(name, label, target, rel, **kw):
    return Field(name, "reference", label, 18, reference_to=[target], relationship_name=rel, **kw)


def _poly(name, label, targets, rel, **kw):
    return Field(name, "reference", label, 18, reference_to=list(targets), relationship_name=rel,
                 **kw)


def _pick(name, label, values, **kw):
    return Field(name, "picklist", label, 255, picklist=list(values), **kw)


def _ro(f: Field) -> Field:
    f.createable = f.updateable = False
    return f


def _system(deletable: bool = True, modified: bool = True) -> tuple[list[Field], list[Field]]:
    head = [Field("Id", "id", "Record ID", 18, nillable=False, createable=False,
                  updateable=False, defaulted=True, id_lookup=True)]
    if deletable:
        head.append(_ro(Field("IsDeleted", "boolean", "Deleted", nillable=False, defaulted=True)))
    tail = [_ro(Field("CreatedDate", "datetime", "Created Date", nillable=False, defaulted=True)),
            _ro(_ref("CreatedById", "Created By ID", "User", "CreatedBy", nillable=False,
                     defaulted=True))]
    if modified:
        tail += [_ro(Field("LastModifiedDate", "datetime", "Last Modified Date", nillable=False,
                           defaulted=True)),
                 _ro(_ref("LastModifiedById", "Last Modified By ID", "User", "LastModifiedBy",
                          nillable=False, defaulted=True))]
    tail.append(_ro(Field("SystemModstamp", "datetime", "System Modstamp", nillable=False,
                          defaulted=True)))
    return head, tail


def _currency(multi_currency: bool) -> list[Field]:
    if not multi_currency:
        return []
    return [_pick("CurrencyIsoCode", "Currency ISO Code", [c[0] for c in org.CURRENCIES],
                  defaulted=True, restricted=True)]


def _owner(target: str = "User") -> Field:
    return _ref("OwnerId", "Owner ID", target, "Owner", nillable=False, defaulted=True)


def build_schema(multi_currency: bool = False) -> dict[str, SObject]:
    """Every sObject of the org, keyed by API name."""
    stages = [s[0] for s in org.STAGES]
    objects = []

    head, tail = _system()
    objects.append(SObject("Account", "Account", "Accounts", "001", head + [
        _text("Name", "Account Name", nillable=False, name_field=True),
        _pick("Type", "Account Type", org.ACCOUNT_TYPES),
        _pick("Industry", "Industry", org.INDUSTRIES),
        _text("Website", "Website", type="url"), _text("Phone", "Account Phone", 40, type="phone"),
        _text("BillingStreet", "Billing Street", type="textarea"),
        _text("BillingCity", "Billing City", 40), _text("BillingState", "Billing State/Province", 80),
        _text("BillingPostalCode", "Billing Zip/Postal Code", 20),
        _text("BillingCountry", "Billing Country", 80),
        _ro(Field("BillingAddress", "address", "Billing Address")),
        Field("AnnualRevenue", "currency", "Annual Revenue", precision=18),
        Field("NumberOfEmployees", "int", "Employees", precision=8),
        _text("Description", "Account Description", 32000, type="textarea", long_text=True),
        _owner(),
        _text("External_Id__c", "External Id", custom=True, unique=True, external_id=True,
              id_lookup=True),
    ] + _currency(multi_currency) + tail, writable=True, children=[
        ("Contact", "AccountId", "Contacts"), ("Opportunity", "AccountId", "Opportunities"),
        ("Task", "WhatId", "Tasks")]))

    objects.append(SObject("Contact", "Contact", "Contacts", "003", head + [
        _ref("AccountId", "Account ID", "Account", "Account"),
        _pick("Salutation", "Salutation", org.SALUTATIONS),
        _text("FirstName", "First Name", 40), _text("LastName", "Last Name", 80, nillable=False),
        _ro(_text("Name", "Full Name", 121, nillable=False, name_field=True)),
        _text("Email", "Email", 80, type="email", id_lookup=True),
        _text("Phone", "Business Phone", 40, type="phone"),
        _text("MobilePhone", "Mobile Phone", 40, type="phone"), _text("Title", "Title", 128),
        _text("Department", "Department", 80), _pick("LeadSource", "Lead Source", org.LEAD_SOURCES),
        _text("MailingCity", "Mailing City", 40), _text("MailingState", "Mailing State/Province", 80),
        _text("MailingCountry", "Mailing Country", 80),
        _text("Description", "Contact Description", 32000, type="textarea", long_text=True),
        _owner(),
        _text("External_Id__c", "External Id", custom=True, unique=True, external_id=True,
              id_lookup=True),
    ] + _currency(multi_currency) + tail, writable=True, children=[
        ("Task", "WhoId", "Tasks")]))

    objects.append(SObject("Opportunity", "Opportunity", "Opportunities", "006", head + [
        _ref("AccountId", "Account ID", "Account", "Account"),
        _text("Name", "Name", 120, nillable=False, name_field=True),
        _text("Description", "Description", 32000, type="textarea", long_text=True),
        _pick("StageName", "Stage", stages, nillable=False, restricted=True),
        Field("Amount", "currency", "Amount", precision=18, scale=2),
        Field("Probability", "percent", "Probability (%)", precision=3, defaulted=True),
        _ro(Field("ExpectedRevenue", "currency", "Expected Amount", precision=18, scale=2)),
        Field("CloseDate", "date", "Close Date", nillable=False),
        _pick("Type", "Opportunity Type", org.OPPORTUNITY_TYPES),
        _text("NextStep", "Next Step"), _pick("LeadSource", "Lead Source", org.LEAD_SOURCES),
        _ro(Field("IsClosed", "boolean", "Closed", nillable=False, defaulted=True)),
        _ro(Field("IsWon", "boolean", "Won", nillable=False, defaulted=True)),
        _ro(_pick("ForecastCategory", "Forecast Category",
                  ["Omitted", "Pipeline", "BestCase", "Forecast", "Closed"], nillable=False,
                  defaulted=True)),
        _pick("ForecastCategoryName", "Forecast Category",
              ["Omitted", "Pipeline", "Best Case", "Commit", "Closed"], defaulted=True),
        _owner(),
        _text("Inbox_Deal_Id__c", "Inbox Deal Id", custom=True, unique=True, external_id=True,
              id_lookup=True),
    ] + _currency(multi_currency) + tail, writable=True, children=[
        ("OpportunityHistory", "OpportunityId", "OpportunityHistories"),
        ("Task", "WhatId", "Tasks")]))

    objects += _activity_objects(multi_currency)

    head, tail = _system(modified=False)
    objects.append(SObject("OpportunityHistory", "Opportunity History", "Opportunity History",
                           "008", head + [_ro(f) for f in [
        _ref("OpportunityId", "Opportunity ID", "Opportunity", "Opportunity", nillable=False),
        _pick("StageName", "Stage", stages), Field("Amount", "currency", "Amount", precision=18),
        Field("ExpectedRevenue", "currency", "Expected Revenue", precision=18),
        Field("CloseDate", "date", "Close Date"), Field("Probability", "percent", "Probability (%)"),
        _pick("ForecastCategory", "Forecast Category",
              ["Omitted", "Pipeline", "BestCase", "Forecast", "Closed"]),
    ]] + [_ro(f) for f in _currency(multi_currency)] + tail))

    head, tail = _system(deletable=False)
    objects.append(SObject("OpportunityStage", "Opportunity Stage", "Opportunity Stages", "01J",
                           head + [_ro(f) for f in [
        _text("MasterLabel", "Master Label", nillable=False, name_field=True),
        _text("ApiName", "Api Name", nillable=False),
        Field("IsActive", "boolean", "Is Active", nillable=False),
        Field("IsClosed", "boolean", "Closed", nillable=False),
        Field("IsWon", "boolean", "Won", nillable=False),
        Field("DefaultProbability", "percent", "Probability (%)"),
        _pick("ForecastCategory", "Forecast Category",
              ["Omitted", "Pipeline", "BestCase", "Forecast", "Closed"]),
        _pick("ForecastCategoryName", "Forecast Category Name",
              ["Omitted", "Pipeline", "Best Case", "Commit", "Closed"]),
        Field("SortOrder", "int", "Sort Order"),
        _text("Description", "Description"),
    ]] + tail))

    objects.append(SObject("User", "User", "Users", "005", head + [_ro(f) for f in [
        _text("Username", "Username", 80, nillable=False, unique=True, id_lookup=True),
        _text("FirstName", "First Name", 40), _text("LastName", "Last Name", 80, nillable=False),
        _text("Name", "Full Name", 121, nillable=False, name_field=True),
        _text("Email", "Email", 128, type="email", nillable=False), _text("Alias", "Alias", 8),
        _text("Title", "Title", 80), Field("IsActive", "boolean", "Active", nillable=False),
        _pick("UserType", "User Type", ["Standard", "PowerPartner", "CsnOnly", "Guest"]),
        _pick("TimeZoneSidKey", "Time Zone", ["America/Los_Angeles", "UTC"]),
        _pick("LocaleSidKey", "Locale", ["en_US"]),
        _pick("LanguageLocaleKey", "Language", ["en_US"]),
    ] + _currency(multi_currency)] + tail))

    objects.append(SObject("Organization", "Organization", "Organizations", "00D",
                           head + [_ro(f) for f in [
        _text("Name", "Name", 80, nillable=False, name_field=True),
        _pick("OrganizationType", "Edition", ["Developer Edition", "Enterprise Edition"]),
        _text("InstanceName", "Instance Name", 5), Field("IsSandbox", "boolean", "Is Sandbox"),
        _pick("DefaultCurrencyIsoCode", "Currency Locale", [c[0] for c in org.CURRENCIES]),
        _pick("TimeZoneSidKey", "Default Time Zone", ["America/Los_Angeles", "UTC"]),
        _pick("LanguageLocaleKey", "Language", ["en_US"]), _text("Country", "Country", 80),
    ]] + tail))

    if multi_currency:
        objects.append(SObject("CurrencyType", "Currency Type", "Currency Types", "01L",
                               head + [_ro(f) for f in [
            _pick("IsoCode", "Currency ISO Code", [c[0] for c in org.CURRENCIES], nillable=False),
            Field("ConversionRate", "double", "Conversion Rate", precision=18, scale=6),
            Field("DecimalPlaces", "int", "Decimal Places"),
            Field("IsActive", "boolean", "Active"), Field("IsCorporate", "boolean", "Corporate"),
        ]] + tail))
    return {o.name: o for o in objects}


# Enhanced Email's objects: without it (an org that never turned it on) they are not there.
ENHANCED_EMAIL_OBJECTS = ("EmailMessage", "EmailMessageRelation")
WHO_TARGETS = ["Contact", "Lead"]
WHAT_TARGETS = ["Account", "Opportunity"]
RELATION_TARGETS = ["Contact", "Lead", "User"]


def _activity_objects(multi_currency: bool) -> list[SObject]:
    """Lead, Task, EmailMessage and EmailMessageRelation, as the Object Reference lists them."""
    head, tail = _system()
    lead = SObject("Lead", "Lead", "Leads", "00Q", head + [
        _pick("Salutation", "Salutation", org.SALUTATIONS),
        _text("FirstName", "First Name", 40), _text("LastName", "Last Name", 80, nillable=False),
        _ro(_text("Name", "Full Name", 121, nillable=False, name_field=True)),
        _text("Title", "Title", 128), _text("Company", "Company", 255, nillable=False),
        _text("Email", "Email", 80, type="email", id_lookup=True),
        _text("Phone", "Phone", 40, type="phone"),
        _text("MobilePhone", "Mobile Phone", 40, type="phone"),
        _text("Website", "Website", type="url"),
        _text("City", "City", 40), _text("State", "State/Province", 80),
        _text("Country", "Country", 80),
        _pick("LeadSource", "Lead Source", org.LEAD_SOURCES),
        # A standard picklist: Salesforce does not restrict it, the org's values are a default.
        _pick("Status", "Status", org.LEAD_STATUSES, nillable=False, defaulted=True,
              default=org.LEAD_STATUSES[0]),
        _pick("Industry", "Industry", org.INDUSTRIES),
        _pick("Rating", "Rating", ["Hot", "Warm", "Cold"]),
        Field("NumberOfEmployees", "int", "Employees", precision=8),
        _text("Description", "Description", 32000, type="textarea", long_text=True),
        _owner(),
        # Create and defaulted, never update: conversion sets it.
        Field("IsConverted", "boolean", "Converted", nillable=False, defaulted=True,
              updateable=False, default=False),
        _ro(Field("ConvertedDate", "date", "Converted Date")),
        _ro(_ref("ConvertedAccountId", "Converted Account ID", "Account", "ConvertedAccount")),
        _ro(_ref("ConvertedContactId", "Converted Contact ID", "Contact", "ConvertedContact")),
        _ro(_ref("ConvertedOpportunityId", "Converted Opportunity ID", "Opportunity",
                 "ConvertedOpportunity")),
        _ro(Field("IsUnreadByOwner", "boolean", "Unread By Owner", nillable=False,
                  defaulted=True, default=False)),
    ] + _currency(multi_currency) + tail, writable=True, children=[("Task", "WhoId", "Tasks")])

    task = SObject("Task", "Task", "Tasks", "00T", head + [
        _poly("WhoId", "Name ID", WHO_TARGETS, "Who"),
        _poly("WhatId", "Related To ID", WHAT_TARGETS, "What"),
        _ro(_ref("AccountId", "Account ID", "Account", "Account")),
        _text("Subject", "Subject", type="combobox"),
        Field("ActivityDate", "date", "Due Date Only"),
        _pick("Status", "Status", org.TASK_STATUSES, nillable=False, defaulted=True,
              default="Not Started"),
        _pick("Priority", "Priority", org.TASK_PRIORITIES, nillable=False, defaulted=True,
              default="Normal"),
        _ro(Field("IsHighPriority", "boolean", "High Priority", nillable=False, defaulted=True,
                  default=False)),
        _ro(Field("IsClosed", "boolean", "Closed", nillable=False, defaulted=True,
                  default=False)),
        # Set when the task is created, never changed after.
        _pick("TaskSubtype", "Task Subtype", org.TASK_SUBTYPES, restricted=True,
              updateable=False),
        _pick("Type", "Type", ["Call", "Email", "Meeting", "Other"]),
        _text("Description", "Description", 32000, type="textarea", long_text=True),
        Field("CompletedDateTime", "datetime", "Completed Date Time", createable=False,
              updateable=False),
        _owner(),
    ] + _currency(multi_currency) + tail, writable=True)

    email = SObject("EmailMessage", "Email Message", "Email Messages", "02s", head + [
        _poly("RelatedToId", "Related To ID", WHAT_TARGETS, "RelatedTo"),
        _ro(_ref("ActivityId", "Activity ID", "Task", "Activity")),
        _text("FromAddress", "From Address", 255, type="email"),
        _text("FromName", "From Name", 1000),
        _text("ToAddress", "To Address", 4000), _text("CcAddress", "CC Address", 4000),
        _text("BccAddress", "BCC Address", 4000),
        _text("Subject", "Subject", 3000),
        _text("TextBody", "Text Body", 131072, type="textarea", long_text=True),
        _text("HtmlBody", "HTML Body", 131072, type="textarea", long_text=True),
        _text("Headers", "Headers", 32000, type="textarea", long_text=True),
        Field("MessageDate", "datetime", "Message Date"),
        Field("Incoming", "boolean", "Is Incoming", nillable=False, defaulted=True,
              default=False),
        _pick("Status", "Status", [v for v, _ in org.EMAIL_STATUSES], nillable=False,
              restricted=True, picklist_labels=dict(org.EMAIL_STATUSES)),
        _text("MessageIdentifier", "Message ID", 255),
        _text("ThreadIdentifier", "Thread ID", 255),
        Field("IsExternallyVisible", "boolean", "Externally Visible", nillable=False,
              defaulted=True, default=False),
        _ro(Field("HasAttachment", "boolean", "Has Attachment", nillable=False, defaulted=True,
                  default=False)),
    ] + tail, writable=True, children=[
        ("EmailMessageRelation", "EmailMessageId", "EmailMessageRelations")])

    relation = SObject("EmailMessageRelation", "Email Message Relation",
                       "Email Message Relations", "0EM", head + [
        Field("EmailMessageId", "reference", "Email Message ID", 18, nillable=False,
              updateable=False, reference_to=["EmailMessage"], relationship_name="EmailMessage"),
        _poly("RelationId", "Relation ID", RELATION_TARGETS, "Relation"),
        _text("RelationAddress", "Relation Address", 255, updateable=False),
        _ro(_text("RelationObjectType", "Relation Object Type", 40)),
        _pick("RelationType", "Relation Type", ["ToAddress", "CcAddress", "BccAddress",
                                                "FromAddress"],
              nillable=False, restricted=True, updateable=False),
    ] + tail, writable=True)
    return [lead, task, email, relation]


# The pseudo-object a polymorphic lookup resolves to in SOQL (Task.Who.Name): a few common
# fields of whichever record the id points at, and its Type.
NAME_OBJECT = SObject("Name", "Name", "Names", "", [
    Field("Id", "id", "Record ID", 18, nillable=False, createable=False, updateable=False),
    _text("Name", "Name", 255), _text("Type", "Type", 40), _text("Email", "Email", 80,
                                                                 type="email"),
    _text("FirstName", "First Name", 40), _text("LastName", "Last Name", 80),
    _text("Title", "Title", 128), _text("Phone", "Phone", 40, type="phone"),
    _text("Alias", "Alias", 8), _text("Username", "Username", 80),
    Field("IsActive", "boolean", "Active"),
])
