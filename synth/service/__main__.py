"""`python -m synth.service [--host H] [--port P] [--data-dir DIR] ...`: run the job API."""

import sys

from synth.service.cli import main

sys.exit(main())
