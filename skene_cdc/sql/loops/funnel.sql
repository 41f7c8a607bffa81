-- `skene-cdc status` / `loops list`: the funnel per loop, then per variant; with a holdout, the
-- held-out group and the lift with its 95% confidence interval.
SELECT loop, type, coalesce(variant, '(all)') AS variant, enrolled, met, sent, delivered,
       converted, expired, failed, conversion_rate, suppressed, held_out, held_out_converted,
       held_out_rate, lift, lift_low, lift_high
FROM skene.loop_funnel
ORDER BY loop, variant NULLS FIRST
