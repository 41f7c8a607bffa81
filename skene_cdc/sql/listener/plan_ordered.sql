-- For the window read only: the queue tables are never analyzed (they are emptied every few
-- seconds), so the planner thinks a window is a few rows and picks a bitmap scan plus a sort of
-- the whole window; an index scan in (txid, seq) order stops at the batch limit instead.
SET LOCAL enable_bitmapscan = off
