-- The reference names a user now (the app created it since): it is no longer unknown.
DELETE FROM skene.stripe_unknown_users WHERE user_ref = %(user_ref)s
