-- A `query` condition, checked by pglast to be one SELECT, run inside skene.condition_rows (the
-- reader role's security-definer fence): each row as jsonb, so any column types reach templates
-- as `user.*`.
SELECT t.row FROM skene.condition_rows(%(statement)s) AS t(row)
