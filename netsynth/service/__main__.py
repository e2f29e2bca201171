"""`python -m netsynth.service [--host H] [--port P] [--data-dir DIR] ...`: run the job API."""

import sys

from netsynth.service.cli import main

sys.exit(main())
