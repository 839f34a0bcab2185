"""The demo workspace: deterministic seed data for trying the product."""
