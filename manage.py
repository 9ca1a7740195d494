#!/usr/bin/env python
"""Django's command-line utility for administrative tasks."""

import sys


def main() -> None:
    # .env beside this file names the settings module first; development settings otherwise.
    from civicpulse.environment import settings_module_choose

    settings_module_choose()
    from django.core.management import execute_from_command_line

    execute_from_command_line(sys.argv)


if __name__ == "__main__":
    main()
