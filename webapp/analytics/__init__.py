"""Email analytics: per-message facts, reports grouped by inbox or Salesforce dimensions."""
