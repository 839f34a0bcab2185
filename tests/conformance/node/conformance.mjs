// jsforce over every path the product uses, against the org at SF_INSTANCE_URL with the
// session SF_ACCESS_TOKEN. Prints one JSON object of what it saw; the Python test judges it.
import jsforce from "jsforce";

const conn = new jsforce.Connection({
  instanceUrl: process.env.SF_INSTANCE_URL,
  accessToken: process.env.SF_ACCESS_TOKEN,
  version: process.env.SF_API_VERSION || "66.0",
});
const seen = {};

async function caught(fn) {
  try {
    return { ok: await fn() };
  } catch (err) {
    return { errorCode: err.errorCode || err.name, message: err.message, data: err.data };
  }
}

// Versions and limits.
const versions = await conn.request("/services/data/");
seen.versions = versions.map((v) => v.version);
const limits = await conn.limits();
seen.dailyApi = limits.DailyApiRequests;

// query paging: the first page, then queryMore until done; and the same by autoFetch.
const soql = "SELECT Id, Email, Account.Name FROM Contact ORDER BY Id";
let page = await conn.query(soql, { headers: { "Sforce-Query-Options": "batchSize=200" } });
seen.firstPage = { size: page.records.length, totalSize: page.totalSize, done: page.done, next: page.nextRecordsUrl || null };
const ids = page.records.map((r) => r.Id);
while (!page.done) {
  page = await conn.queryMore(page.nextRecordsUrl);
  ids.push(...page.records.map((r) => r.Id));
}
seen.pagedIds = ids.length;
seen.uniqueIds = new Set(ids).size;
const fetched = await conn.query(soql, { autoFetch: true, maxFetch: 100000 });
seen.autoFetched = fetched.records.length;
const all = await conn.query("SELECT Id, IsDeleted FROM Contact", { scanAll: true });
seen.queryAll = { totalSize: all.totalSize, deleted: all.records.filter((r) => r.IsDeleted).length };

// sObjects: create, get, update, upsert by external id (create then update), delete.
const Contact = conn.sobject("Contact");
const created = await Contact.create({ FirstName: "Js", LastName: "Force", Email: "jsforce@conformance.test" });
seen.created = created;
const got = await Contact.retrieve(created.id);
seen.got = { Id: got.Id, Name: got.Name, type: got.attributes.type, url: got.attributes.url };
seen.updated = await Contact.update({ Id: created.id, Title: "Client" });
seen.afterUpdate = (await Contact.retrieve(created.id)).Title;
const Opportunity = conn.sobject("Opportunity");
seen.upsertCreated = await Opportunity.upsert(
  { Inbox_Deal_Id__c: "js-deal-1", Name: "Js deal", StageName: "Prospecting", CloseDate: "2026-12-31" },
  "Inbox_Deal_Id__c",
);
seen.upsertUpdated = await Opportunity.upsert({ Inbox_Deal_Id__c: "js-deal-1", StageName: "Closed Won" }, "Inbox_Deal_Id__c");
seen.deleted = await Contact.destroy(created.id);
seen.getDeleted = await caught(() => Contact.retrieve(created.id));

// sObject Collections: create, update, upsert, retrieve (GET and POST), delete.
const batch = await Contact.create(
  [
    { LastName: "Batch A", Email: "batch.a@conformance.test" },
    { LastName: "Batch B", Email: "batch.b@conformance.test" },
    { FirstName: "No last name" },
  ],
  { allOrNone: false },
);
seen.batchCreate = batch;
const made = batch.filter((r) => r.success).map((r) => r.id);
seen.batchUpdate = await Contact.update(made.map((Id) => ({ Id, Title: "Batched" })), { allOrNone: false });
seen.batchUpsert = await Opportunity.upsert(
  [
    { Inbox_Deal_Id__c: "js-deal-1", Amount: 100 },
    { Inbox_Deal_Id__c: "js-deal-2", Name: "Js deal 2", StageName: "Prospecting", CloseDate: "2026-12-31" },
    { Inbox_Deal_Id__c: "js-deal-3", Name: "No stage" },
  ],
  "Inbox_Deal_Id__c",
  { allOrNone: false },
);
const retrieved = await Contact.retrieve(made, { fields: ["Id", "Title"] });
seen.retrieveGet = retrieved.map((r) => r && r.Title);
const byPost = await conn.request({
  method: "POST",
  url: `/services/data/v${conn.version}/composite/sobjects/Contact`,
  body: JSON.stringify({ ids: [...made, "003000000000000AAA"], fields: ["Id", "LastName"] }),
  headers: { "Content-Type": "application/json" },
});
seen.retrievePost = byPost.map((r) => r && r.LastName);
seen.batchDelete = await Contact.destroy([...made, "003000000000000AAA"], { allOrNone: false });

// describe, global and per object.
const global = await conn.describeGlobal();
seen.describeGlobal = global.sobjects.map((s) => s.name).filter((n) => ["Account", "Contact", "Opportunity", "Lead"].includes(n));
const described = await Opportunity.describe();
seen.describe = {
  keyPrefix: described.keyPrefix,
  stageValues: described.fields.find((f) => f.name === "StageName").picklistValues.map((p) => p.value),
  externalId: described.fields.find((f) => f.name === "Inbox_Deal_Id__c").externalId,
};

// A query Salesforce refuses, and a duplicate rule's refusal (switched on by the test).
seen.badQuery = await caught(() => conn.query("SELECT Id FROM Contact WHERE Email = 'a' AND LastName = 'b' OR Title = 'c'"));
if (process.env.SF_DUPLICATE_EMAIL) {
  seen.duplicate = await caught(() => Contact.create({ LastName: "Dup", Email: process.env.SF_DUPLICATE_EMAIL }));
}

process.stdout.write(JSON.stringify(seen));
