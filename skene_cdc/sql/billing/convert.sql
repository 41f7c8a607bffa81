-- Free -> paid soon after an upgrade prompt: that prompt converted. The latest open prompt of
-- the freemium loops within the conversion window gets the credit.
UPDATE skene.enrolments SET
    state = 'converted',
    converted_at = now(),
    context = context || jsonb_build_object('converted_by', %(event_id)s::text)
WHERE id = (
    SELECT id FROM skene.enrolments
    WHERE loop = ANY(%(loops)s::text[]) AND user_id = %(user_id)s AND state IN ('met', 'sent')
      AND coalesce(sent_at, met_at) >= now() - %(window)s::interval
    ORDER BY coalesce(sent_at, met_at) DESC
    LIMIT 1)
RETURNING id, loop, episode
