DROP TABLE IF EXISTS skene.enrolments, skene.deliveries;
