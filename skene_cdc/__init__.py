"""skene-cdc: change-data-capture into growth loops, inside the app's own PostgreSQL."""

__version__ = "0.1.0"
