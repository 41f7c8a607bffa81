-- One of skene's NOLOGIN roles, once nothing in the cluster uses it. Its memberships go with it
-- (the GRANT of it to the role that ran migrate, made so a non-superuser could hand it
-- skene.capture() or SET ROLE to it).
DROP ROLE IF EXISTS {role};
