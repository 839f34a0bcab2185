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
                {"active": True, "defaultValue": False, "label": v, "validFor": None, "value": v}
                for v in self.picklist],
            "polymorphicForeignKey": False, "precision": self.precision,
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
        ("Contact", "AccountId", "Contacts"), ("Opportunity", "AccountId", "Opportunities")]))

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
    ] + _currency(multi_currency) + tail, writable=True))

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
        ("OpportunityHistory", "OpportunityId", "OpportunityHistories")]))

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
