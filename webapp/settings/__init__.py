"""Admin settings: the workspace and its integrations."""
