"""schemathesis against a live server: ``python -m tests.fuzz`` (see ``__main__``)."""
