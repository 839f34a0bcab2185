"""Deals: the inbox's own pipeline, pushed to Salesforce as Opportunities by the deal sync."""
