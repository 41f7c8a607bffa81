-- Remember that the slot was lost: changes from then until a new slot exists were not captured.
INSERT INTO skene.replication AS r (slot, lost_at, lost_reason)
VALUES (%(slot)s, now(), %(reason)s)
ON CONFLICT (slot) DO UPDATE SET lost_at = now(), lost_reason = EXCLUDED.lost_reason,
                                 updated_at = now()
