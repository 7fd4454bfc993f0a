"""python -m daemon.cli: the complaintd command."""

import sys

from daemon.cli import main

sys.exit(main())
