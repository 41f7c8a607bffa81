-- Which of a batch's active users some retention loop is waiting on (an email sent, or a
-- held-out user's would-be send): most active users are not, and for them the per-loop
-- conversion UPDATE is skipped. Uses enrolments_goal_idx.
SELECT DISTINCT loop, user_id
FROM skene.enrolments
WHERE state IN ('sent', 'held_out') AND user_id = ANY(%(users)s::text[]) AND loop = ANY(%(loops)s::text[])
