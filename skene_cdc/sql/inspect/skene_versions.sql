-- skene's own Alembic versions (never the app's alembic_version).
SELECT version_num FROM skene.alembic_version ORDER BY 1
