-- Drop the slot only if no walsender is using it (a live listener keeps its slot).
SELECT pg_drop_replication_slot(slot_name) AS dropped
FROM pg_replication_slots
WHERE slot_name = %(slot)s AND NOT active AND database = current_database()
