-- Make the next table current. The sequence moves at once, whatever the transaction does;
-- closed_xmax is taken after it moved, so every writer that still saw the old value (its
-- transaction id was assigned before the trigger read it) lies below it.
SELECT nextval('skene.queue_rotation') AS part
