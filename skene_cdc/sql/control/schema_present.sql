SELECT to_regnamespace('skene') IS NOT NULL AS present
