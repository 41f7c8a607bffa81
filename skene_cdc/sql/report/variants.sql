-- Conversion per template variant (sticky per user): the "adjust campaigns" comparison.
-- Loops without variants show one row with variant NULL (the step's single template).
SELECT loop, variant,
       count(*)                                                    AS enrolled,
       count(sent_at)                                              AS sent,
       count(converted_at)                                         AS converted,
       round(100.0 * count(converted_at) / nullif(count(sent_at), 0), 1) AS conversion_pct
FROM skene.enrolments
GROUP BY loop, variant
ORDER BY loop, variant NULLS FIRST
