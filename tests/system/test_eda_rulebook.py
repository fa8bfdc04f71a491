"""One real ansible-rulebook run of the collection's onboard rulebook against the simulator: the source
loads from the INSTALLED collection, and a machine that comes online is onboarded by run_playbook
limited to that one host.

ansible-rulebook (PyPI, Java 17+) lives in a venv of its own, made by `make eda`, which runs this test
with EDA_BIN set to that venv's bin/. Without EDA_BIN the test is skipped (the per-release system test
runs would otherwise run it once per release); with EDA_REQUIRED=1 a missing ansible-rulebook fails."""

import json
import os
import signal
import subprocess
import time

import pytest

from helpers import SECRET

SIMULATOR = {'sessions': 25, 'seed': 261, 'api_secret': SECRET}
EDA_BIN = os.environ.get('EDA_BIN')


def wait(condition, timeout, what):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = condition()
        if found:
            return found
        time.sleep(0.25)
    raise AssertionError('no %s within %d s' % (what, timeout))


@pytest.mark.skipif(not EDA_BIN and os.environ.get('EDA_REQUIRED') != '1',
                    reason='ansible-rulebook runs in `make eda` (EDA_BIN=.venv-eda/bin)')
def test_onboard_rulebook_onboards_the_machine_that_comes_online(sim, installed_collection, tmp_path):
    rulebook = os.path.join(EDA_BIN or '', 'ansible-rulebook')
    assert os.path.exists(rulebook), 'ansible-rulebook is not installed in %s: run make eda' % EDA_BIN
    sim.reset(fleet=True)
    inventory = tmp_path / 'screenconnect.yml'
    inventory.write_text('plugin: msp.screenconnect.screenconnect\n')
    (tmp_path / 'vars.yml').write_text('screenconnect_poll_interval: 1\n')
    env = dict(os.environ)
    for name in list(env):
        if name.startswith(('SCREENCONNECT_', 'ANSIBLE_')):
            del env[name]
    env.update({
        # ansible-rulebook runs `ansible-galaxy collection list`, ansible-runner ansible-playbook: both from its venv.
        'PATH': EDA_BIN + os.pathsep + env.get('PATH', ''),
        'ANSIBLE_COLLECTIONS_PATH': installed_collection['path'],
        'ANSIBLE_COLLECTIONS_SCAN_SYS_PATH': 'false',
        'ANSIBLE_HOME': str(tmp_path / 'ansible-home'),
        'ANSIBLE_LOCAL_TEMP': str(tmp_path / 'ansible-tmp'),
        'XDG_CACHE_HOME': str(tmp_path / 'cache'),
        'SCREENCONNECT_SERVER_URL': sim.url,
        'SCREENCONNECT_API_SECRET': SECRET,
        'SCREENCONNECT_RATE_LIMIT': '6000',
    })
    offline = [s for s in sim.fleet.sessions if not s.online and not s.is_ended and s.stype == 'Access'
               and 'onboarded' not in s.cps[2]]
    target = offline[0]
    log = open(str(tmp_path / 'rulebook.log'), 'w')
    # The rulebook by its collection name: loaded from the installed collection, like its source.
    process = subprocess.Popen([rulebook, '--rulebook', 'msp.screenconnect.onboard', '-i', str(inventory),
                                '--vars', str(tmp_path / 'vars.yml'), '-v'],
                               cwd=str(tmp_path), env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    try:
        wait(lambda: len([r for r in sim.requests if r['method'] == 'GetSessionsByFilter']) >= 2, 120, 'second listing by the source (log: %s)' % log.name)
        assert not [r for r in sim.requests if r['method'] == 'AddNoteToSession'], 'the first listing onboards nothing'
        sim.set_online(target, True)
        notes = wait(lambda: [r for r in sim.requests if r['method'] == 'AddNoteToSession'], 180,
                     'onboarding note (log: %s)' % log.name)
        wait(lambda: [r for r in sim.requests if r['method'] == 'UpdateSessionCustomProperties'], 60, 'onboarded tag')
        time.sleep(3)  # a playbook run on more hosts would have noted them by now
    finally:
        os.killpg(process.pid, signal.SIGINT)
        try:
            process.wait(30)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait(10)
        log.close()
    output = (tmp_path / 'rulebook.log').read_text()
    written = [(r['method'], r['args'][0]) for r in sim.requests if r['method'] in ('AddNoteToSession', 'UpdateSessionCustomProperties')]
    assert written == [('AddNoteToSession', target.sid), ('UpdateSessionCustomProperties', target.sid)], (written, output[-3000:])
    assert 'onboarded' in target.cps[2].split(',')
    assert SECRET not in output
    # The playbook ran limited to the one host the event named (run_playbook's limit = event.meta.hosts).
    host = target.name or target.guest['MachineName']
    assert 'ok: [%s' % host in output or 'changed: [%s' % host in output, output[-3000:]
    assert json.dumps(host) in output or host in output
