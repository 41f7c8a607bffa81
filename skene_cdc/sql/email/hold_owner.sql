-- A sender's token, held for as long as its session lives (released when the process dies and
-- its connection with it). 1936417134 is 'sken': the key space of skene's senders.
SELECT pg_advisory_lock(1936417134, %(owner)s)
