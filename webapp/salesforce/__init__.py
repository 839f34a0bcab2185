"""The Salesforce client: OAuth tokens, REST calls, SOQL. Knows nothing of Flask requests;
the app, the scheduler and the CLI pass it what it needs."""
