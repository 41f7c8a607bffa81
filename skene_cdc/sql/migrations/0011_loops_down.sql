-- Back to the 0-based step the freemium gate wrote before 0010 (through negative numbers, as up).
UPDATE skene.deliveries d
SET step = -d.step
WHERE EXISTS (SELECT 1 FROM skene.enrolments e
              WHERE e.loop = d.loop AND e.user_id = d.user_id AND e.episode = d.episode
                AND e.context ->> 'event' = 'freemium.blocked');
UPDATE skene.deliveries SET step = -step - 1 WHERE step < 0;
