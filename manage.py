#!/usr/bin/env python
"""Django's command-line utility for the secretvault example project."""

import os
import sys


def main() -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "example_project.settings")
    try:
        from django.core.management import execute_from_command_line
    except ImportError as exc:
        raise ImportError(
            "Couldn't import Django. Are you sure it's installed and available on your "
            "PYTHONPATH environment variable? Did you forget to activate a virtual "
            "environment? (scripts/demo creates .venv for you.)"
        ) from exc
    execute_from_command_line(sys.argv)


if __name__ == "__main__":
    main()
