-- For the window read only: the queue tables' statistics are whatever autovacuum last saw
-- (they are emptied every few seconds, or hold a big backlog), so the planner may think a window
-- is a few rows and pick a bitmap scan plus a sort of the whole window, or parallel workers for
-- a few rows; an index scan in (txid, seq) order reads only the window and stops at the batch
-- limit. One statement (set_config, local to the transaction), so it is prepared like the rest.
SELECT set_config('enable_bitmapscan', 'off', true),
       set_config('max_parallel_workers_per_gather', '0', true)
