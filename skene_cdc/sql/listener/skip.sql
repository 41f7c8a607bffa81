
       AND NOT ((q.txid::text || ':' || q.seq) = ANY (%(skip)s::text[]))
