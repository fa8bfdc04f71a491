"""The msp.screenconnect.sessions event source (extensions/eda): its main(queue, args) driven with an
asyncio queue, as ansible-rulebook drives it, against the simulator and a hostile server."""

import json
import logging
import os

import pytest

from eda_helpers import Running, by_type, check_shape, source
from helpers import BIN, SECRET, run
from screenconnect_sim.hostile import HostileServer

SIMULATOR = {'sessions': 30, 'seed': 26, 'api_secret': SECRET}
sessions = source('sessions')


@pytest.fixture(autouse=True)
def fresh(sim, tmp_path, monkeypatch):
    sim.reset(fleet=True)
    # A private rate-limit state; no SCREENCONNECT_* of the machine leaks in.
    monkeypatch.setenv('XDG_CACHE_HOME', str(tmp_path / 'cache'))
    for name in list(os.environ):
        if name.startswith('SCREENCONNECT_'):
            monkeypatch.delenv(name)


def args_for(sim, **extra):
    args = {'server_url': sim.url, 'api_secret': SECRET, 'interval': 0.1, 'rate_limit': 60000, 'rate_burst': 1000}
    args.update(extra)
    return args


def listings(sim):
    return [entry for entry in sim.requests if entry['api'] == 'rest']


def live(sim):
    return [s for s in sim.fleet.sessions if not s.is_ended and s.stype == 'Access']


def change_everything(sim):
    """One change of each kind; returns the session ids each should name."""
    online = next(s for s in live(sim) if s.online)
    offline = next(s for s in live(sim) if not s.online)
    renamed, moved, ended = [s for s in live(sim) if s not in (online, offline)][:3]
    sim.set_online(online, False)
    sim.set_online(offline, True)
    sim.triggers.rename(renamed, 'renamed-host-1')
    sim.triggers.set_properties(moved, ['Globex', moved.cps[1], 'kiosk', '', 'slot five'])
    sim.triggers.end(ended)
    added = sim.add_session(name='new-laptop-7', custom_properties=['Initech'], online=True)
    return {'guest_disconnected': online.sid, 'guest_connected': offline.sid, 'renamed': renamed.sid,
            'properties_changed': moved.sid, 'session_removed': ended.sid, 'session_added': added}


def test_first_listing_is_silent_then_every_event_type(sim):
    running = Running(sessions, args_for(sim)).start(settle=0.5)
    try:
        assert running.events() == []  # the first listing is what is, not what changed
        assert listings(sim), 'the source listed the fleet'
        expected = change_everything(sim)
        events = running.wait_for(6)
    finally:
        running.stop()
    found = by_type(events)
    assert sorted(found) == sorted(sessions.EVENT_TYPES)
    for kind in sessions.EVENT_TYPES:
        assert [event['screenconnect']['session_id'] for event in found[kind]] == [expected[kind]], kind
    for event in events:
        check_shape(event, 'poll', secrets=[SECRET])
    added = found['session_added'][0]['screenconnect']
    assert added['host'] == 'new-laptop-7' and added['session']['screenconnect_company'] == 'Initech'
    assert added['session']['screenconnect_online'] is True
    assert found['guest_connected'][0]['screenconnect']['session']['screenconnect_online'] is True
    assert found['guest_disconnected'][0]['screenconnect']['session']['screenconnect_online'] is False
    changes = found['properties_changed'][0]['screenconnect']['changes']
    assert changes['company']['new'] == 'Globex' and changes['tag']['new'] == 'kiosk'
    assert changes['custom_property5'] == {'old': '', 'new': 'slot five'}
    assert found['properties_changed'][0]['screenconnect']['session']['screenconnect_company'] == 'Globex'
    renamed = found['renamed'][0]['screenconnect']
    assert renamed['changes']['name']['new'] == 'renamed-host-1' and renamed['host'] == 'renamed-host-1'
    removed = found['session_removed'][0]['screenconnect']
    assert removed['session']['screenconnect_is_ended'] is True


def test_one_listing_request_per_poll(sim):
    poller = sessions.Poller(args_for(sim))
    for number in range(1, 6):
        sim.set_online(live(sim)[number], not live(sim)[number].online)  # something changes every time
        events, state = poller.poll()
        poller.commit(state)
        assert [entry['method'] for entry in listings(sim)] == ['GetSessionsByFilter'] * number
    assert events  # the last poll saw its change without asking for the session


def test_event_types_and_emit_existing(sim):
    running = Running(sessions, args_for(sim, emit_existing=True, event_types=['session_added', 'guest_connected']))
    before = len(live(sim))
    running.start(settle=0.5)
    try:
        first = running.events()
        change_everything(sim)
        later = running.wait_for(2)
    finally:
        running.stop()
    assert len(first) == before  # every live session of the first listing
    assert {event['screenconnect']['type'] for event in first} == {'session_added'}
    assert sorted(event['screenconnect']['type'] for event in later) == ['guest_connected', 'session_added']


def test_restart_with_state_file_emits_what_changed_meanwhile(sim, tmp_path):
    state_file = tmp_path / 'state' / 'sessions.json'
    state_file.parent.mkdir()
    args = args_for(sim, state_file=str(state_file))
    running = Running(sessions, args).start(settle=0.5)
    running.stop()
    saved = json.loads(state_file.read_text())
    assert len(saved['sessions']) == len(live(sim))  # the size of the fleet
    assert SECRET not in state_file.read_text() and sim.url not in state_file.read_text()
    expected = change_everything(sim)  # while the source is down
    running = Running(sessions, args).start()
    try:
        events = running.wait_for(6)
    finally:
        running.stop()
    assert {kind: [event['screenconnect']['session_id'] for event in found]
            for kind, found in by_type(events).items()} == {kind: [expected[kind]] for kind in sessions.EVENT_TYPES}
    assert os.listdir(str(state_file.parent)) == ['sessions.json']  # written atomically: no temporary left
    # A state file of another server is not used: its first listing is silent again.
    other = dict(args, server_url=sim.url + '/other')
    poller = sessions.Poller(other)
    assert poller.state is None


def test_bad_options_fail_before_any_request(sim):
    for bad, word in (({'interval': 0}, 'interval'), ({'event_types': ['exploded']}, 'event_types'),
                      ({'intervall': 5}, 'intervall'), ({'api_secret': None}, 'api_secret'),
                      ({'state_file': '/nonexistent/dir/state.json'}, 'state_file'),
                      ({'property_names': {'company': 9}}, 'property_names')):
        args = args_for(sim, **bad)
        if bad.get('api_secret', 1) is None:
            del args['api_secret']
        with pytest.raises(sessions.SourceConfigError, match=word):
            sessions.Poller(args)
    assert listings(sim) == []


def test_connection_from_environment(sim, monkeypatch):
    monkeypatch.setenv('SCREENCONNECT_SERVER_URL', sim.url)
    monkeypatch.setenv('SCREENCONNECT_API_SECRET', SECRET)
    monkeypatch.setenv('SCREENCONNECT_RATE_LIMIT', '60000')
    poller = sessions.Poller({'interval': 1})
    events, state = poller.poll()
    assert events == [] and len(state) == len(live(sim))


@pytest.fixture
def hostile():
    with HostileServer() as server:
        yield server


def test_a_failing_server_removes_nothing(sim, hostile, caplog):
    """Login pages, 429 and 503 storms, cut answers, broken entries and an empty answer between two
    good listings: no session_removed, no change from broken fields, one warning per streak."""
    good = json.loads(sim._sessions_answer(live(sim), 'rest').body)
    broken = [dict(entry) for entry in good]
    broken[0] = 'no session'  # an entry without an id: no removal can be trusted
    broken[1]['CustomPropertyValues'] = 'not a list'  # a broken field is no change
    broken[2]['Name'] = {'not': 'text'}
    del broken[3]
    changed = [dict(entry) for entry in good]
    changed[4] = dict(changed[4], CustomPropertyValues=['Umbrella (EU)'] + changed[4]['CustomPropertyValues'][1:])
    body = json.dumps(good)
    hostile.program('GetSessionsByFilter', [
        {'body': good},
        {'body': '<html><title>ScreenConnect Login</title></html>', 'headers': {'Content-Type': 'text/html'}},
        {'status': 429, 'headers': {'Retry-After': '0'}, 'body': 'Too many requests'},
        {'status': 429, 'headers': {'Retry-After': '0'}, 'body': 'Too many requests'},
        {'status': 429, 'headers': {'Retry-After': '0'}, 'body': 'Too many requests'},
        {'status': 503, 'body': 'Service Unavailable'},
        {'status': 503, 'headers': {'Retry-After': '0'}, 'body': 'Service Unavailable'},
        {'body': body, 'truncate': len(body) // 2},
        {'body': broken},
        {'body': []},
        {'body': good},
        {'body': '{"not": "a list"}'},
        {'body': changed},
    ])
    caplog.set_level(logging.DEBUG)
    args = {'server_url': hostile.url, 'api_secret': SECRET, 'interval': 0.05, 'max_backoff': 0.1, 'retries': 0,
            'rate_limit': 60000, 'rate_burst': 1000, 'timeout': 5}
    running = Running(sessions, args).start()
    try:
        running.pump(0.2)
        events = running.wait_for(1, timeout=10)
        running.pump(0.3)
        events += running.events()
    finally:
        running.stop()
    assert len(hostile.requests_for('GetSessionsByFilter')) >= 13
    assert [(event['screenconnect']['type'], event['screenconnect']['session_id']) for event in events] == [
        ('properties_changed', good[4]['SessionID'])], events
    warnings = [record.getMessage() for record in caplog.records
                if record.levelno >= logging.WARNING and 'listing failed' in record.getMessage()]
    assert len(warnings) == 2, warnings  # two streaks: login page to cut answer, then the non-list
    assert SECRET not in caplog.text


def test_source_loads_from_an_installed_collection_by_path(installed_collection, tmp_path):
    """ansible-rulebook imports a source by its file path with nothing of the collection importable."""
    import subprocess
    import sys
    path = os.path.join(installed_collection['path'], 'ansible_collections', 'msp', 'screenconnect', 'extensions',
                        'eda', 'plugins', 'event_source')
    script = ('import importlib.util, sys\n'
              'for name in ("sessions", "triggers"):\n'
              '    spec = importlib.util.spec_from_file_location(name, sys.argv[1] + "/" + name + ".py")\n'
              '    module = importlib.util.module_from_spec(spec)\n'
              '    spec.loader.exec_module(module)\n'
              '    print(name, callable(module.main), module._client.__file__.startswith(sys.argv[2]))\n')
    result = subprocess.run([sys.executable, '-I', '-c', script, path, installed_collection['path']],
                            capture_output=True, text=True, cwd=str(tmp_path), check=False)
    assert result.returncode == 0, result.stderr
    assert result.stdout.split('\n')[:2] == ['sessions True True', 'triggers True True']


def test_hosts_and_hostvars_are_the_inventorys(sim, ansible_env, tmp_path):
    """event.screenconnect.host and .session are what ansible-inventory gives, for every session."""
    inventory = tmp_path / 'screenconnect.yml'
    inventory.write_text('plugin: msp.screenconnect.screenconnect\n')
    listed = json.loads(run([os.path.join(BIN, 'ansible-inventory'), '-i', str(inventory), '--list'],
                            env=ansible_env).stdout)['_meta']['hostvars']
    events, _state = sessions.Poller(args_for(sim, emit_existing=True)).poll()
    assert sorted(event['screenconnect']['host'] for event in events) == sorted(listed)
    for event in events:
        body = event['screenconnect']
        expected = listed[body['host']]
        for name in ('screenconnect_session_id', 'screenconnect_company', 'screenconnect_site', 'screenconnect_tag',
                     'screenconnect_online', 'screenconnect_name', 'screenconnect_guest', 'screenconnect_custom_properties'):
            assert body['session'][name] == plain(expected[name]), (body['host'], name)


def plain(value):
    """ansible-inventory --list writes text that could be a template as {"__ansible_unsafe": text}."""
    if isinstance(value, dict):
        if list(value) == ['__ansible_unsafe']:
            return value['__ansible_unsafe']
        return dict((key, plain(item)) for key, item in value.items())
    if isinstance(value, list):
        return [plain(item) for item in value]
    return value
