-- The role that runs migrate (and so the listener) may SET ROLE to the reader.
GRANT {role} TO {member};
