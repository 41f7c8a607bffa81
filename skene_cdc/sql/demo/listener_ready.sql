-- The listener is up: its consumer announced itself and its scheduler registered the loops (a
-- new loop's first firing is its next slot, so there is no start-up firing to wait for).
SELECT (SELECT count(*) FROM skene.listeners) AS listeners,
       (SELECT count(*) FROM skene.loops) AS loops
