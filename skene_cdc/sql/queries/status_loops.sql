-- Per loop: the funnel over all episodes. enrolled counts every episode; sent those whose email
-- went out; converted those that reached the loop's goal. Loops with no episodes yet are absent.
SELECT loop,
       count(*)                                                        AS enrolled,
       count(*) FILTER (WHERE state IN ('enrolled', 'met'))            AS waiting,
       count(sent_at)                                                  AS sent,
       count(converted_at)                                             AS converted,
       count(*) FILTER (WHERE state IN ('expired', 'failed'))          AS dropped,
       round(100.0 * count(converted_at) / nullif(count(*), 0), 1)     AS conversion_pct
FROM skene.enrolments
GROUP BY loop
ORDER BY loop
