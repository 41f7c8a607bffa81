-- `skene-cdc status`, section freemium: per loop, the gate's funnel from skene.enrolments
-- (rows the gate wrote carry context.event = 'freemium.blocked').
SELECT loop,
       count(*) FILTER (WHERE enrolled_at > now() - interval '30 days') AS users_blocked_30d,
       -- sum(bigint) is numeric; a count is shown and serialised as an integer
       coalesce(sum((context ->> 'blocked')::bigint)
                FILTER (WHERE enrolled_at > now() - interval '30 days'), 0)::bigint
           AS requests_blocked_30d,
       count(*) FILTER (WHERE sent_at IS NOT NULL) AS prompts_sent,
       count(*) FILTER (WHERE state = 'converted') AS conversions,
       round(100.0 * count(*) FILTER (WHERE state = 'converted')
             / nullif(count(*), 0), 1) AS conversion_pct,
       max(enrolled_at) AS last_blocked_at
FROM skene.enrolments
WHERE context ->> 'event' = 'freemium.blocked'
GROUP BY loop
ORDER BY loop
