SELECT count(*) AS n FROM skene.enrolments WHERE loop = %(loop)s AND converted_at IS NOT NULL
