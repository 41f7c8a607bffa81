"""The `skene-cdc` command line. Every flag also reads an environment variable (SKENE_<FLAG>, or
the name the contract fixes, such as DATABASE_URL)."""
