"""Telling admins outside the page when the Salesforce sync fails or the connection needs
reconnecting: incidents (webapp.notify.incidents), the channels that carry them
(webapp.notify.notifier) and the admin's settings (webapp.notify.settings)."""
