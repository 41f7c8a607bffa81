REVOKE {privilege} ON {kind} {object} FROM {role};
