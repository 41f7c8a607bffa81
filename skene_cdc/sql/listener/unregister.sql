DELETE FROM skene.listeners WHERE listener = %(listener)s
