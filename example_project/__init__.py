"""A runnable Django project that mounts secretvault's admin and API (see scripts/demo)."""
