DROP TABLE IF EXISTS skene.deliveries;
