"""The composition root of the listener process: `services` builds what skene.yaml asks for
(capture, the event consumer and its handlers, streams, freemium's gate sync, loops, the sender),
`supervisor` runs them. Nothing below this package imports it."""
