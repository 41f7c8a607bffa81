-- The reader is a member of no other role: it would inherit that role's rights.
REVOKE {granted} FROM {role};
