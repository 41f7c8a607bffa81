-- The claim transaction's clock: frequency slots are taken at now(), so windows are measured on it.
SELECT now() AS now
