# -*- coding: utf-8 -*-
# Copyright: msp.screenconnect contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""A token bucket shared by every process of one controller for one server.

Ansible runs each host's task in its own fork, and a playbook may run beside another one, so a
limit kept in memory is no limit. The bucket lives in a small state file under a private cache
directory; fcntl.flock serializes the processes. The state is the "theoretical arrival time"
of GCRA, which is a token bucket in one number: each caller reserves the next slot under the
lock, then sleeps outside it, so waiting processes never hold the lock.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import errno
import fcntl
import hashlib
import json
import os
import tempfile
import time

# Servers count arrivals, not departures: a request that leaves on time may arrive early
# relative to the one before. Pacing this much under the limit absorbs drift over a long run.
SAFETY_FACTOR = 0.98


def default_state_dir():
    base = os.environ.get('XDG_CACHE_HOME') or os.path.join(os.path.expanduser('~'), '.cache')
    return os.path.join(base, 'msp.screenconnect')


def private_dir(path):
    try:
        os.makedirs(path, mode=0o700)
    except OSError as exc:
        if exc.errno != errno.EEXIST:
            raise
    info = os.stat(path)
    if info.st_uid == os.getuid() and info.st_mode & 0o077:
        os.chmod(path, 0o700)
    return path


def _usable_dir(path):
    """path made private and checked writable, else OSError."""
    private_dir(path)
    if not os.path.isdir(path):
        raise OSError(errno.ENOTDIR, 'not a directory')
    if os.path.islink(path) or os.stat(path).st_uid != os.getuid():
        raise OSError(errno.EPERM, 'not owned by this user')
    if not os.access(path, os.W_OK | os.X_OK):
        raise OSError(errno.EACCES, 'not writable')
    return path


def usable_state_dir(state_dir=None):
    """(directory, warning or None) for the limiter's and the missing methods' state files.

    A cache directory that cannot be used (XDG_CACHE_HOME a file, read-only, another user's) costs
    a warning, not the run: the state moves to a private directory of this user under the system's
    temporary directory, which every process of this controller still shares (a fresh mkdtemp per
    process would not be a shared limit). Only when that fails too is it an error, naming both."""
    wanted = state_dir or default_state_dir()
    try:
        return _usable_dir(wanted), None
    except OSError as exc:
        problem = exc.strerror or type(exc).__name__
    fallback = os.path.join(tempfile.gettempdir(), 'msp.screenconnect-%d' % os.getuid())
    try:
        _usable_dir(fallback)
    except OSError as exc:
        raise StateDirError('the cache directory %s cannot be used (%s), nor %s (%s): set XDG_CACHE_HOME to a '
                            'writable directory' % (wanted, problem, fallback, exc.strerror or type(exc).__name__))
    return fallback, ('the cache directory %s cannot be used (%s): the shared rate limit keeps its state in %s '
                      'instead; set XDG_CACHE_HOME to a writable directory' % (wanted, problem, fallback))


class StateDirError(ValueError):
    """No directory for the shared state: a configuration problem, reported before any request."""


class SharedRateLimiter:
    """`rate` requests per minute with bursts of `burst`, for one key (the server URL)."""

    def __init__(self, key, rate, burst, state_dir=None, clock=time.time, sleep=time.sleep):
        self.interval = 60.0 / (float(rate) * SAFETY_FACTOR)
        # One token stays in reserve: a request that arrives a little early then finds it there,
        # instead of a 429. It costs one request of the first burst, nothing of the steady rate.
        self.tolerance = max(int(burst) - 2, 0) * self.interval
        self._clock = clock
        self._sleep = sleep
        digest = hashlib.sha256(key.encode('utf-8')).hexdigest()[:32]
        self.path = os.path.join(private_dir(state_dir or default_state_dir()), 'ratelimit-%s.json' % digest)

    def _update(self, change):
        """Run change(tat, now) -> (new_tat, result) under the file lock; return result."""
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            raw = os.read(fd, 4096)
            try:
                tat = float(json.loads(raw.decode('utf-8'))['tat'])
            except (ValueError, KeyError, TypeError):
                tat = 0.0
            now = self._clock()
            new_tat, result = change(tat, now)
            data = json.dumps({'tat': new_tat}).encode('utf-8')
            os.lseek(fd, 0, os.SEEK_SET)
            os.ftruncate(fd, 0)
            os.write(fd, data)
            return result
        finally:
            os.close(fd)  # closing releases the flock

    def acquire(self):
        """Reserve one request slot and sleep until it comes; return the seconds waited."""
        def reserve(tat, now):
            tat = max(tat, now)
            start = tat - self.tolerance
            return tat + self.interval, max(0.0, start - now)

        wait = self._update(reserve)
        if wait > 0:
            self._sleep(wait)
        return wait

    def pause(self, seconds):
        """The server said Retry-After: hold every process back, not just this one."""
        def push(tat, now):
            return max(tat, now + seconds + self.tolerance), None

        self._update(push)
