-- How many requests were blocked in this period (the meter's running count, so re-applying an
-- older batch never lowers it).
UPDATE skene.enrolments
SET context = jsonb_set(context, '{blocked}',
                        to_jsonb(greatest(coalesce((context ->> 'blocked')::bigint, 0),
                                          %(blocked)s::bigint)))
WHERE loop = %(loop)s AND user_id = %(user_id)s AND episode = %(episode)s
