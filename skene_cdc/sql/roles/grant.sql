GRANT {privilege} ON {kind} {object} TO {role};
