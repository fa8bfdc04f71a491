"""The simulator's own tests: `python -m pytest tools/simulator/tests` (stdlib simulator; the tests use
pytest and requests). One `sim` per test module; a module that needs another fleet says so with
SIMULATOR = {...}, keyword arguments of Simulator() that replace the defaults below."""

import os
import sys

import pytest

SIMULATOR_DIR = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
if SIMULATOR_DIR not in sys.path:
    sys.path.insert(0, SIMULATOR_DIR)

from screenconnect_sim import Simulator  # noqa: E402

SIMULATOR = {'sessions': 60, 'seed': 11, 'api_secret': 's3cret-rest', 'command_delay': 0.05}


@pytest.fixture(scope='module')
def sim(request):
    """A simulator for the test module: SIMULATOR here, updated by the module's own SIMULATOR."""
    simulator = Simulator(**dict(SIMULATOR, **getattr(request.module, 'SIMULATOR', {})))
    simulator.start()
    yield simulator
    simulator.stop()
