DELETE FROM skene.quarantine WHERE %(all)s OR id = ANY (%(ids)s::bigint[])
