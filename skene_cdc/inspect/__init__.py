"""Reading the app's schema: `init` (what to capture) and `check` (is the database ready)."""
