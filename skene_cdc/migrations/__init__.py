"""Installing skene into the app database: Alembic migrations (schema `skene`, its own version
table) and the capture sync that re-applies triggers, publication and views from skene.yaml."""
