DELETE FROM skene.meta WHERE key = {key};
