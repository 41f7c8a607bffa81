-- Events left in the pre-0008 table (all of them consumed: 0008 queued the others).
SELECT to_regclass('skene.events_legacy') IS NOT NULL AS present,
       (SELECT reltuples::bigint FROM pg_class WHERE oid = to_regclass('skene.events_legacy'))
           AS estimate
