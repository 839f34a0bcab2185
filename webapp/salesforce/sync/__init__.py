"""The pull sync: Salesforce into the local mirror and the inbox's contacts.

Framework-free: it takes an engine, a client and ids. ``runner.SyncRunner`` runs one sync,
``ledger`` queues and claims runs, ``objects`` says what is pulled and how it is converted.
"""
