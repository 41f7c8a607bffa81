-- Plans a query on skene.users without reading a row: fails when its function's body names a
-- column the app has since renamed or dropped.
SELECT * FROM skene.users LIMIT 0
