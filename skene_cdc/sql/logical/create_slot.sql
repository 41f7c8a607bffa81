SELECT pg_create_logical_replication_slot({slot}, 'pgoutput');
