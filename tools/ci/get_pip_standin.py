"""Offline stand-in for the get-pip.py bootstrap script of ansible-test.

MARKER: msp.screenconnect tools/ci get-pip stand-in (tools/ci/ansible_test.sh overwrites files carrying this line)

ansible-test bootstraps pip into every virtual environment it creates (one per
sanity test, and the --venv controller) by running a get-pip.py script that it
downloads from a host this machine cannot reach. Before downloading, it looks for
~/.ansible/test/cache/get_pip_<pip version with _>.py and uses that instead;
tools/ci/ansible_test.sh copies this file there.

ansible-test runs it (through its quiet_pip.py wrapper, with runpy as __main__)
inside the new, pip-less virtual environment, with arguments such as:

    --disable-pip-version-check pip==24.2 --no-setuptools --no-wheel

The pip wheel that the standard library bundles for ensurepip is run straight
from the wheel file (pip supports ``python pip-X.whl/pip ...``) to do
``pip install --upgrade --force-reinstall <args>``, which installs the exact pip
(and setuptools/wheel on older ansible-core) that ansible-test asked for from
the package index. ``--no-setuptools``/``--no-wheel`` are get-pip.py options,
not pip options, so they are dropped: nothing is installed unless asked for.
"""

import glob
import os
import subprocess
import sys

GET_PIP_ONLY_OPTIONS = ('--no-setuptools', '--no-wheel', '--no-pip')


def bundled_pip_wheels():
    """Return the pip wheels shipped for ensurepip, best first."""
    found = []
    try:
        import ensurepip
    except ImportError:
        ensurepip = None
    if ensurepip is not None:
        found.extend(glob.glob(os.path.join(os.path.dirname(ensurepip.__file__), '_bundled', 'pip-*.whl')))
    # Debian/Ubuntu keep the ensurepip wheels outside the standard library.
    found.extend(glob.glob('/usr/share/python-wheels/pip-*.whl'))
    return sorted(set(found), reverse=True)


def main():
    wheels = bundled_pip_wheels()
    if not wheels:
        sys.stderr.write('get-pip stand-in: no bundled pip wheel found for ensurepip in %s\n' % sys.executable)
        return 1

    args = [arg for arg in sys.argv[1:] if arg not in GET_PIP_ONLY_OPTIONS]
    command = [sys.executable, os.path.join(wheels[0], 'pip'), 'install', '--upgrade', '--force-reinstall'] + args
    return subprocess.call(command)


if __name__ == '__main__':
    sys.exit(main())
