"""``python tools/simulator/screenconnect_sim [options]`` or ``python -m screenconnect_sim [options]``."""

import os
import sys

if not __package__:
    # Run as a directory: Python put this directory on sys.path; the package's parent is what imports it.
    sys.path[0] = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

from screenconnect_sim.cli import main  # noqa: E402  pylint: disable=wrong-import-position

sys.exit(main())
