"""Capture: reading skene.events in commit-safe order (trigger mode), logical replication, and the
long-running `listen` process that runs every service."""
