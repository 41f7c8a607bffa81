-- Before schema skene is dropped: the role that owns skene.capture(), which is the capture role
-- migrate made (roles.capture in skene.yaml; uninstall has no config to read it from). Only a
-- role skene could have made is offered for dropping: not a superuser, not the role running
-- uninstall (an install older than the capture role left capture() with whoever migrated).
SELECT r.rolname AS role, r.rolcanlogin AS login,
       r.rolsuper OR r.rolname = current_user AS not_skenes
FROM pg_proc p
JOIN pg_roles r ON r.oid = p.proowner
WHERE p.oid = to_regprocedure('skene.capture()')
