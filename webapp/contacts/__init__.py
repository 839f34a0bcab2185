"""The workspace's contacts."""
