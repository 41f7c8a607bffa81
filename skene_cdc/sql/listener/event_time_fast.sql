-- An event time as to_json writes timestamp, timestamptz and date values, cast as is (a time
-- without a zone is UTC); anything else (BC, infinity, a year past 9999) is NULL. A text that
-- has the shape but is no date (a column the app turned into text) makes the cast raise: the
-- batch is then read again through the sanitizer, with event_time_safe.sql. String tests, not
-- a regular expression: this runs for every event (regexp_match costs ~30 us a row here).
CASE WHEN left(r.raw, 1) NOT BETWEEN '0' AND '9' OR substr(r.raw, 5, 1) <> '-'
          OR substr(r.raw, 8, 1) <> '-' OR substr(r.raw, 11, 1) NOT IN ('', 'T')
          OR right(r.raw, 3) = ' BC' THEN NULL
     WHEN length(r.raw) > 19
          AND (strpos(substr(r.raw, 20), '+') > 0 OR strpos(substr(r.raw, 20), '-') > 0)
     THEN r.raw::timestamptz
     ELSE r.raw::timestamp AT TIME ZONE 'UTC' END
