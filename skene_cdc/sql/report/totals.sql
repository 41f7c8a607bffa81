-- The headline numbers at the top of the report.
SELECT (SELECT count(*) FROM skene.events)                              AS events,
       (SELECT min(captured_at) FROM skene.events)                      AS first_event_at,
       (SELECT max(captured_at) FROM skene.events)                      AS last_event_at,
       (SELECT count(*) FROM skene.user_activity)                       AS users_seen,
       (SELECT count(*) FROM skene.enrolments)                          AS enrolments,
       (SELECT count(*) FROM skene.deliveries WHERE state = 'sent')     AS emails_sent,
       (SELECT count(*) FROM skene.deliveries WHERE state = 'dead')     AS emails_dead,
       (SELECT count(*) FROM skene.deliveries WHERE state = 'pending')  AS emails_pending,
       current_database()                                               AS database
