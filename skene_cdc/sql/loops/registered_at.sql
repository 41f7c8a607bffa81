-- Since when each loop has had its current definition (skene.loops.updated_at moves only when
-- skene.yaml changes the loop): a schedule never fires a slot from before it.
SELECT name, updated_at FROM skene.loops WHERE name = ANY(%(loops)s::text[])
