"""The shared token bucket, on a fake clock (conftest.py) and across real processes."""

import multiprocessing
import os
import stat
import time

import pytest

from ansible_collections.msp.screenconnect.plugins.module_utils._ratelimit import SAFETY_FACTOR, SharedRateLimiter


def limiter(state_dir, clock, rate=60, burst=3):
    return SharedRateLimiter('https://sc.example', rate, burst, state_dir=state_dir, clock=clock, sleep=clock.sleep)


def test_burst_then_paced(clock, state_dir):
    bucket = limiter(state_dir, clock)
    waits = [bucket.acquire() for _round in range(6)]
    interval = 1.0 / SAFETY_FACTOR
    assert waits[:2] == [0, 0]  # burst 3, one token kept in reserve
    assert waits[2:] == pytest.approx([interval] * 4)  # the fake clock moves on by each wait


def test_refills_while_idle(clock, state_dir):
    bucket = limiter(state_dir, clock)
    for _round in range(3):
        bucket.acquire()
    clock.now += 100
    assert [bucket.acquire() for _round in range(2)] == [0, 0]


def test_two_limiters_for_one_server_share_the_bucket(clock, state_dir):
    first, second = limiter(state_dir, clock), limiter(state_dir, clock)
    first.acquire(), second.acquire()
    assert first.acquire() > 0


def test_other_server_has_its_own_bucket(clock, state_dir):
    bucket = limiter(state_dir, clock)
    for _round in range(3):
        bucket.acquire()
    other = SharedRateLimiter('https://other.example', 60, 3, state_dir=state_dir, clock=clock, sleep=clock.sleep)
    assert other.acquire() == 0 and other.acquire() == 0


def test_pause_holds_everyone_back(clock, state_dir):
    bucket = limiter(state_dir, clock)
    bucket.pause(7)
    assert bucket.acquire() == pytest.approx(7)


def test_state_is_private_and_holds_no_url(clock, state_dir, tmp_path):
    shared = tmp_path / 'loose'
    shared.mkdir(mode=0o777)
    os.chmod(str(shared), 0o777)
    bucket = SharedRateLimiter('https://secret-host.example', 60, 3, state_dir=str(shared), clock=clock, sleep=clock.sleep)
    bucket.acquire()
    assert stat.S_IMODE(os.stat(str(shared)).st_mode) == 0o700
    assert stat.S_IMODE(os.stat(bucket.path).st_mode) == 0o600
    assert 'secret-host' not in bucket.path
    with open(bucket.path) as handle:
        assert 'secret-host' not in handle.read()


def test_corrupt_state_is_reset(clock, state_dir):
    bucket = limiter(state_dir, clock)
    with open(bucket.path, 'w') as handle:
        handle.write('{not json')
    assert bucket.acquire() == 0


def _take(state_dir, count, queue):
    bucket = SharedRateLimiter('https://sc.example', 600, 5, state_dir=state_dir)
    for _round in range(count):
        bucket.acquire()
        queue.put(time.time())


def test_processes_together_keep_the_rate(state_dir):
    """8 processes x 5 requests at 600/min, burst 5 (4 used): 40 requests need >= 36 intervals of 0.1 s."""
    queue = multiprocessing.Queue()
    start = time.time()
    workers = [multiprocessing.Process(target=_take, args=(state_dir, 5, queue)) for _round in range(8)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(30)
    stamps = sorted(queue.get(timeout=5) for _round in range(40))
    elapsed = stamps[-1] - start
    interval = 60.0 / (600 * SAFETY_FACTOR)
    assert elapsed >= 36 * interval * 0.95
    # No window of 1 s holds more than burst + rate-per-second requests.
    for index, stamp in enumerate(stamps):
        in_window = sum(1 for other in stamps[index:] if other - stamp < 1.0)
        assert in_window <= 5 + 10 + 1


# ---- a cache directory that cannot be used -------------------------------------------------------

def test_a_usable_cache_directory_is_used_as_it_is(tmp_path):
    from ansible_collections.msp.screenconnect.plugins.module_utils._ratelimit import usable_state_dir
    assert usable_state_dir(str(tmp_path / 'state')) == (str(tmp_path / 'state'), None)


def test_xdg_cache_home_a_file_falls_back_to_a_private_temporary_directory(tmp_path, monkeypatch):
    from ansible_collections.msp.screenconnect.plugins.module_utils import _ratelimit
    blocker = tmp_path / 'file'
    blocker.write_text('not a directory')
    monkeypatch.setenv('XDG_CACHE_HOME', str(blocker))
    monkeypatch.setattr(_ratelimit.tempfile, 'gettempdir', lambda: str(tmp_path / 'tmp'))
    (tmp_path / 'tmp').mkdir()
    path, warning = _ratelimit.usable_state_dir()
    assert path == str(tmp_path / 'tmp' / ('msp.screenconnect-%d' % os.getuid()))
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o700
    assert str(blocker) in warning and 'XDG_CACHE_HOME' in warning and path in warning
    # The fallback is one place for every process, so the limit stays shared.
    assert _ratelimit.usable_state_dir()[0] == path
    bucket = SharedRateLimiter('https://sc.example', 60, 3, state_dir=path)
    assert bucket.acquire() == 0


def test_no_usable_directory_at_all_is_one_error_naming_both(tmp_path, monkeypatch):
    from ansible_collections.msp.screenconnect.plugins.module_utils import _ratelimit
    blocker = tmp_path / 'file'
    blocker.write_text('not a directory')
    monkeypatch.setattr(_ratelimit.tempfile, 'gettempdir', lambda: str(blocker))
    with pytest.raises(_ratelimit.StateDirError) as info:
        _ratelimit.usable_state_dir(str(blocker / 'state'))
    assert str(blocker / 'state') in str(info.value) and 'XDG_CACHE_HOME' in str(info.value)


def test_the_client_warns_instead_of_failing_and_fails_as_a_config_error(tmp_path, monkeypatch):
    from ansible_collections.msp.screenconnect.plugins.module_utils import _client, _ratelimit
    blocker = tmp_path / 'file'
    blocker.write_text('not a directory')
    monkeypatch.setenv('XDG_CACHE_HOME', str(blocker))
    monkeypatch.setattr(_ratelimit.tempfile, 'gettempdir', lambda: str(tmp_path))
    client = _client.ScreenConnectClient({'server_url': 'https://sc.example', 'api_secret': 'x'})
    assert any('XDG_CACHE_HOME' in warning for warning in client.warnings)
    monkeypatch.setattr(_ratelimit.tempfile, 'gettempdir', lambda: str(blocker))
    with pytest.raises(_client.ConfigError):
        _client.ScreenConnectClient({'server_url': 'https://sc.example', 'api_secret': 'x'})
