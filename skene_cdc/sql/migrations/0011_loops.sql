-- Before 0011 the freemium gate stored a delivery's step as its 0-based index while the loop
-- engine (and the gate's own enrolments) used 1-based numbers, so skene.loop_enrolments never
-- found freemium deliveries. Renumber them once; skene.handlers.decision.StepRef is the one
-- convention from now on. Freemium deliveries are those whose enrolment the gate wrote. Two
-- steps, through negative numbers, so the unique key (loop, user, step, episode) never clashes.
UPDATE skene.deliveries d
SET step = -(d.step + 1)
WHERE EXISTS (SELECT 1 FROM skene.enrolments e
              WHERE e.loop = d.loop AND e.user_id = d.user_id AND e.episode = d.episode
                AND e.context ->> 'event' = 'freemium.blocked');
UPDATE skene.deliveries SET step = -step WHERE step < 0;
