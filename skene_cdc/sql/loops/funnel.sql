-- `skene-cdc status` / `loops list`: the funnel per loop, then per variant.
SELECT loop, type, coalesce(variant, '(all)') AS variant, enrolled, met, sent, delivered,
       converted, expired, failed, conversion_rate
FROM skene.loop_funnel
ORDER BY loop, variant NULLS FIRST
