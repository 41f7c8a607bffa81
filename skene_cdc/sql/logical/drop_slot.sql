-- A slot in use by a walsender cannot be dropped: end that session (a listener reconnects and
-- then finds the slot gone), wait for it to let go, then drop.
DO $drop$
BEGIN
    PERFORM pg_terminate_backend(active_pid) FROM pg_replication_slots
    WHERE slot_name = {slot} AND active_pid IS NOT NULL;
    FOR i IN 1..100 LOOP
        EXIT WHEN NOT EXISTS (SELECT 1 FROM pg_replication_slots WHERE slot_name = {slot} AND active);
        PERFORM pg_sleep(0.1);
    END LOOP;
    PERFORM pg_drop_replication_slot(slot_name) FROM pg_replication_slots
    WHERE slot_name = {slot} AND database = current_database();
END
$drop$;
