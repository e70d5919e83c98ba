"""``python -m imagegpt_rs``: the command line (see :mod:`imagegpt_rs.cli`)."""

import sys

from .cli import main

sys.exit(main())
