-- Serialise claims per user: a frequency cap is counted and its slot taken under this lock, in
-- the claim's transaction, so two senders (two listeners) can never both send a user's last
-- allowed email. Keys are taken in one order, so two claims never deadlock.
SELECT count(pg_advisory_xact_lock(hashtext('skene.email_frequency'), k.key)) AS locked
FROM (SELECT DISTINCT hashtext(u) AS key FROM unnest(%(users)s::text[]) AS u ORDER BY 1) k
