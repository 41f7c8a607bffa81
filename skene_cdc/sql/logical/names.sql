-- The slot and publication migrate created (what uninstall will drop).
SELECT max(value) FILTER (WHERE key = 'slot') AS slot,
       max(value) FILTER (WHERE key = 'publication') AS publication
FROM skene.meta
WHERE key IN ('slot', 'publication')
