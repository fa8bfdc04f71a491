"""The backstage-command layer (plugins/module_utils/_backstage.py) for real: the shared client over
HTTP to the simulator, and the simulator's agent (tools/simulator/screenconnect_sim/agent.py) as a
plain process without root, running each framed command in a real /bin/sh.

Framing and parsing on built answers, without a socket or a shell: tests/unit/plugins/module_utils/test_backstage.py.
"""

import hashlib
import json
import os
import shutil
import subprocess
import sys
import time

import pytest

from ansible_collections.msp.screenconnect.plugins.module_utils import _client
from ansible_collections.msp.screenconnect.plugins.module_utils._backstage import (
    Backstage, GuestOfflineError, MayHaveRunError)
from ansible_collections.msp.screenconnect.plugins.module_utils._client import ScreenConnectError
from helpers import SECRET
from screenconnect_sim import agent as sim_agent

SIMULATOR = {'sessions': 20, 'seed': 3, 'api_secret': SECRET, 'command_delay': 0.05}


def make_client(sim, state_dir):
    return _client.ScreenConnectClient({'server_url': sim.url, 'api_secret': SECRET, 'rate_limit': 6000,
                                        'rate_burst': 100, 'retries': 3, 'timeout': 10},
                                       state_dir=state_dir, backoff_base=0.01)


def sends(sim):
    return [entry for entry in sim.requests if entry.get('method') == 'SendCommandToSession']


@pytest.fixture(scope='module')
def agent(sim, tmp_path_factory):
    """The simulator's agent as a plain process in a temp dir; yields its session id."""
    home = tmp_path_factory.mktemp('agent')
    shutil.copy(sim_agent.__file__, str(home / 'agent.py'))
    (home / 'agent.json').write_text(json.dumps({'server': sim.url, 'state_dir': str(home / 'state')}))
    log = open(str(home / 'agent.log'), 'w')
    process = subprocess.Popen([sys.executable, str(home / 'agent.py')], stderr=log)
    try:
        deadline = time.monotonic() + 20
        sid = None
        while time.monotonic() < deadline:
            if (home / 'state' / 'session-id').exists():
                sid = (home / 'state' / 'session-id').read_text().strip()
                session = sim.find(sid)
                if session is not None and session.online:
                    break
            time.sleep(0.1)
        else:
            raise AssertionError('the agent did not come online: %s' % (home / 'agent.log').read_text())
        yield sid
    finally:
        process.terminate()
        process.wait(10)
        log.close()


@pytest.fixture(autouse=True)
def fresh(sim):
    sim.reset()
    sim.configure(max_command_length=0)
    yield


def test_rc_stdout_stderr_apart_and_what_a_command_costs(sim, agent, state_dir):
    backstage = Backstage(make_client(sim, state_dir), agent)
    result = backstage.run("printf 'été ✓\\n'; echo 'no space left' >&2; exit 5", timeout_ms=10000)
    assert result.complete and result.rc == 5
    assert result.stdout == 'été ✓\n' and result.stderr == 'no space left\n'
    assert backstage.requests == 3 + (backstage.polls - 1)  # details, send, the polls
    before = backstage.requests
    second = backstage.run('true')  # the last answer's newest event is the marker: no details first
    assert second.complete and (second.rc, second.stdout, second.stderr) == (0, '', '')
    assert backstage.requests - before == 1 + 1 + (backstage.polls - 2) and len(sends(sim)) == 2


def test_exit_and_syntax_errors_still_give_an_exit_code(sim, agent, state_dir):
    backstage = Backstage(make_client(sim, state_dir), agent)
    assert backstage.run('echo before; exit 7; echo after').stdout == 'before\n'
    broken = backstage.run('if then fi')
    assert broken.complete and broken.rc == 2 and 'Syntax error' in broken.stderr


def test_binary_stdin_longer_than_one_argument_reaches_the_command(sim, agent, state_dir):
    data = os.urandom(200 * 1024)  # base64 in the command: ~270 KB, past Linux's 128 KiB per argument
    result = Backstage(make_client(sim, state_dir), agent).run('sha256sum', stdin=data, timeout_ms=30000)
    assert result.complete and result.rc == 0, result
    assert result.stdout == '%s  -\n' % hashlib.sha256(data).hexdigest()
    assert len(sends(sim)[0]['args'][1]) > 128 * 1024


def test_binary_output_comes_back_exactly(sim, agent, state_dir):
    result = Backstage(make_client(sim, state_dir), agent).run(
        "head -c 3000 /dev/urandom > /tmp/sc-bin.$$; cat /tmp/sc-bin.$$; sha256sum < /tmp/sc-bin.$$ >&2; rm /tmp/sc-bin.$$",
        max_length=10000)
    assert result.complete and len(result.stdout_bytes) == 3000
    assert result.stderr.split()[0] == hashlib.sha256(result.stdout_bytes).hexdigest()


def test_the_agent_kills_a_command_past_its_timeout(sim, agent, state_dir):
    started = time.monotonic()
    result = Backstage(make_client(sim, state_dir), agent).run('echo started; sleep 30', timeout_ms=1000)
    assert not result.complete and result.rc is None and result.killed_after_ms == 1000
    assert result.agent_message == 'Killed after 1000 milliseconds'
    assert time.monotonic() - started < 15


def test_the_agent_cuts_long_output(sim, agent, state_dir):
    result = Backstage(make_client(sim, state_dir), agent).run("printf '%05000d' 0", max_length=500)
    assert not result.complete and result.rc is None and result.truncated_at == 500
    assert result.stdout and set(result.stdout) == {'0'}


def test_a_server_that_refuses_long_commands_is_a_clear_failure_sent_once(sim, agent, state_dir):
    sim.configure(max_command_length=1000)
    with pytest.raises(ScreenConnectError) as raised:
        Backstage(make_client(sim, state_dir), agent).run('echo %s' % ('x' * 2000))
    assert not isinstance(raised.value, MayHaveRunError) and raised.value.status == 413
    assert raised.value.may_have_run is False and 'at most 1000' in raised.value.message
    assert len(sends(sim)) == 1


def test_a_502_after_queueing_is_never_sent_again(sim, agent, state_dir):
    sim.set_faults([{'method': 'SendCommandToSession', 'kind': 'after', 'status': 502}])
    with pytest.raises(MayHaveRunError) as raised:
        Backstage(make_client(sim, state_dir), agent).run('echo once >> /tmp/never-twice')
    assert raised.value.may_have_run is True and raised.value.status == 502
    assert len(sends(sim)) == 1 and sim.stats()['writes'] == {'SendCommandToSession': 1}


def test_simulated_guests_answer_framed_commands_too(sim, state_dir):
    client = make_client(sim, state_dir)
    linux = [s for s in client.find_sessions() if s['online'] and s['guest']['os_family'] == 'linux'][0]
    backstage = Backstage(client, linux['session_id'])
    result = backstage.run('hostname\necho oops >&2\nexit 4')
    assert result.complete and (result.rc, result.stdout, result.stderr) == (4, linux['guest']['machine_name'] + '\n',
                                                                             'oops\n')
    assert backstage.run('sleep 20', timeout_ms=1000).killed_after_ms == 1000


def test_an_offline_guest_fails_at_once_and_nothing_is_sent(sim, state_dir):
    client = make_client(sim, state_dir)
    offline = [s for s in client.find_sessions() if not s['online'] and s['last_seen']][0]
    with pytest.raises(GuestOfflineError) as raised:
        Backstage(client, offline['session_id']).run('hostname')
    assert raised.value.last_seen == offline['last_seen'] and 'offline (last seen ' in raised.value.message
    assert sends(sim) == []
