"""The app's side of the Salesforce sync: settings, Sync Now, the run ledger on the settings
page, and running a queued run with the workspace's connection."""
