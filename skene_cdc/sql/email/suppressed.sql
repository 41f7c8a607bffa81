-- Which of these (user, address, loop) may not get growth email, and why: one row per
-- suppressed item (`ord`: its 1-based position in the arrays).
SELECT u.ord, s.id, s.reason, skene.suppression_reason(s.id) AS why
FROM unnest(%(users)s::text[], %(addresses)s::text[], %(loops)s::text[])
     WITH ORDINALITY AS u(user_id, address, loop, ord)
JOIN skene.suppressions s ON s.id = skene.email_suppressed(u.user_id, u.address, u.loop)
