-- Nobody but skene's own roles may call skene's functions: a role that could EXECUTE the capture
-- function could attach it to a table of its own. (Per-schema default privileges cannot take
-- PUBLIC's EXECUTE away, and the global ones are the app's: every function skene creates later
-- is revoked where it is created.)
REVOKE ALL ON ALL FUNCTIONS IN SCHEMA skene FROM PUBLIC;
