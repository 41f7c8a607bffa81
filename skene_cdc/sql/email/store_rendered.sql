-- Keep each newly rendered email on its row before it is sent, so every retry sends the same.
UPDATE skene.deliveries d SET rendered = u.rendered
FROM unnest(%(ids)s::bigint[], %(rendered)b::jsonb[]) AS u(id, rendered)
WHERE d.id = u.id
