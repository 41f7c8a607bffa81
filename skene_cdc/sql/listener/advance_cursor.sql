UPDATE skene.cursors
SET txid = %(txid)s::text::xid8, event_id = %(event_id)s, processed = processed + %(n)s,
    last_error = NULL, updated_at = now()
WHERE name = %(cursor)s
