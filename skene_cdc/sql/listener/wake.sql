-- While a listener sleeps, capture triggers NOTIFY (the epoch second it sleeps until); 0 = awake.
SELECT setval('skene.wake', %(until)s, true)
