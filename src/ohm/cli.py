"""``ohm``: the command line. A thin wrapper over Django's management commands.

ohm migrate | ohm demo --accounts 35000 --seed 1 | ohm serve | ohm bench search | ...
"""

import os
import sys


def main() -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "ohm.settings")
    from django.core.management import execute_from_command_line

    execute_from_command_line(["ohm", *sys.argv[1:]])


if __name__ == "__main__":
    main()
