-- What the demo reports after each phase: captured events, users, dormant users (skene.users).
SELECT (SELECT count(*) FROM skene.events)                                 AS events,
       (SELECT count(*) FROM skene.users)                                  AS users,
       (SELECT count(*) FROM skene.users
         WHERE last_activity_at < now() - interval '7 days')               AS dormant,
       (SELECT count(*) FROM skene.users
         WHERE last_activity_at >= now() - interval '7 days')              AS active
