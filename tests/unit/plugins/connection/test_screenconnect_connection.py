"""The connection plugin against a fake server whose "agent" runs each queued command with /bin/sh in a
temporary directory, as the simulator's agent does (stdout and stderr in one text, #timeout and
#maxlength applied). The plugin's options are resolved by ansible-core's own configuration manager."""

import base64
import hashlib
import io
import os
import re
import signal
import subprocess
import sys
import zipfile

import pytest
import yaml

from ansible import constants as C
from ansible.errors import AnsibleConnectionFailure, AnsibleError
from ansible.playbook.play_context import PlayContext
from ansible.plugins.loader import shell_loader

from ansible_collections.msp.screenconnect.plugins.connection import screenconnect as plugin
from ansible_collections.msp.screenconnect.plugins.doc_fragments.connection import ModuleDocFragment
from ansible_collections.msp.screenconnect.plugins.module_utils import _connection_options
from ansible_collections.msp.screenconnect.plugins.module_utils._transport import ScreenConnectError
from ansible_collections.msp.screenconnect.plugins.plugin_utils import _guest_windows

SESSION = '6c1b2b2e-1111-4222-8333-944455556666'
NAME = 'msp.screenconnect.screenconnect'


def plugin_options():
    """The plugin's options as ansible-core merges them: its own, then each fragment's entries."""
    options = yaml.safe_load(plugin.DOCUMENTATION)['options']
    for fragment in (ModuleDocFragment.DOCUMENTATION, ModuleDocFragment.PLUGINS, ModuleDocFragment.CONNECTION_PLUGIN):
        for name, entries in yaml.safe_load(fragment)['options'].items():
            option = options.setdefault(name, {})
            for key, value in entries.items():
                option[key] = option.get(key, []) + value if key in ('env', 'vars') else value
    return options


C.config.initialize_plugin_configuration_definitions('connection', NAME, plugin_options())


class FakeServer:
    """A client the plugin's backstage layer talks to; its agent runs commands with /bin/sh."""

    api = 'rest'

    def __init__(self, tmp_path, online=True, last_seen='2026-07-19T06:41:52Z'):
        self.tmp_path = tmp_path
        self.online = online
        self.last_seen = last_seen
        self.events = [{'event_id': 'e0', 'event_type': 10, 'data': ''}]   # a real session has its history
        self.sent = []
        self.stats = {'requests': 0, 'rate_limited': 0}
        self.warnings = []
        self.send_error = None
        self.tamper = None        # text -> text, applied before the agent runs a command
        self.skip = lambda text: False
        self.after_run = None

    def redact(self, text):
        return text

    def _event(self, kind, data):
        self.events.append({'event_id': 'e%d' % (len(self.events) + 1), 'event_type': kind, 'data': data})

    def get_session_details(self, session_id):
        assert session_id == SESSION
        self.stats['requests'] += 1
        return {'online': self.online, 'last_seen': self.last_seen}, list(self.events)

    def call(self, method, arguments, safe=None):
        assert method == 'SendCommandToSession' and arguments[0] == SESSION
        self.stats['requests'] += 1
        self.sent.append(arguments[1])
        if self.send_error is not None:
            raise self.send_error  # pylint: disable=raising-bad-type
        self._event(44, arguments[1])
        if self.online and not self.skip(arguments[1]):
            self._event(70, self.agent(arguments[1]))
        return None

    def agent(self, text):
        timeout = int(re.search(r'^#timeout=(\d+)$', text, re.M).group(1))
        maxlength = int(re.search(r'^#maxlength=(\d+)$', text, re.M).group(1))
        if self.tamper:
            text = self.tamper(text)
        process = subprocess.Popen(['/bin/sh', '-c', text], stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                   stderr=subprocess.STDOUT, env=dict(os.environ, TMPDIR=str(self.tmp_path)),
                                   start_new_session=True)
        try:
            output = process.communicate(timeout=timeout / 1000.0)[0].decode('utf-8', 'replace')
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            output = process.communicate()[0].decode('utf-8', 'replace') + '\nKilled after %d milliseconds' % timeout
        if self.after_run:
            self.after_run(text)
        if len(output) > maxlength:
            output = output[:maxlength] + '\nTruncated output at %d characters' % maxlength
        return output


@pytest.fixture
def server(tmp_path, monkeypatch):
    fake = FakeServer(tmp_path)
    monkeypatch.setattr(plugin._client, 'from_options', lambda get_option, **kwargs: fake)
    monkeypatch.setattr(plugin.Connection, '_backstage_options', {'sleep': lambda seconds: None})
    monkeypatch.setattr(plugin.signal, 'getitimer', lambda which: (0.0, 0.0))
    return fake


def connection(hostvars=None, shell=None):
    context = PlayContext()
    context.remote_addr = 'ws-0042'
    if shell:
        context.shell = shell
    conn = plugin.Connection(context)
    conn._load_name = NAME
    variables = {'ansible_screenconnect_server_url': 'https://acme.screenconnect.com',
                 'ansible_screenconnect_api_secret': 's3cret', 'screenconnect_session_id': SESSION}
    variables.update(hostvars or {})
    conn.set_options(var_options=variables)
    return conn


# ---- options and the session ------------------------------------------------------------------
def test_every_shared_option_has_its_host_variable():
    options = plugin_options()
    for name, _type, _default, env, _secret in _connection_options.CONNECTION_OPTIONS:
        assert {'name': 'ansible_screenconnect_%s' % name} in options[name]['vars']
        assert [entry['name'] for entry in options[name].get('env', [])] == ([env] if env else [])
    for name in ('max_command_size', 'queue_when_offline', 'command_timeout', 'max_output_size', 'stats_file', 'session_id'):
        assert options[name]['vars'][-1] == {'name': 'ansible_screenconnect_%s' % name}


def test_session_from_the_inventory_hostvar_or_the_explicit_variable():
    assert connection().get_option('session_id') == SESSION
    other = '00000000-0000-4000-8000-000000000001'
    assert connection({'ansible_screenconnect_session_id': other}).get_option('session_id') == other


def test_command_timeout_from_ansible_command_timeout():
    assert connection().get_option('command_timeout') == 1800
    assert connection({'ansible_command_timeout': 42}).get_option('command_timeout') == 42
    assert connection({'ansible_command_timeout': 42, 'ansible_screenconnect_command_timeout': 7}).get_option('command_timeout') == 7


def test_no_session_is_a_clear_error(server):
    conn = connection({'screenconnect_session_id': None})
    with pytest.raises(AnsibleError, match='host ws-0042 has no ScreenConnect session: set ansible_screenconnect_session_id'):
        conn.exec_command('true')
    assert server.stats['requests'] == 0


def test_a_session_id_that_is_no_guid_is_refused_before_any_request(server):
    with pytest.raises(AnsibleError, match="is not a GUID"):
        connection({'ansible_screenconnect_session_id': 'ws-0042'}).exec_command('true')
    assert server.stats['requests'] == 0


def test_session_manager_api_is_refused(server):
    server.api = 'session_manager'
    with pytest.raises(AnsibleError, match='need api rest'):
        connection().exec_command('true')


# ---- commands -------------------------------------------------------------------------------------
def test_command_rc_stdout_stderr_and_its_cost(server):
    conn = connection()
    rc, out, err = conn.exec_command("printf 'h\\303\\251llo'; echo oops >&2; exit 3")
    assert (rc, out, err) == (3, u'héllo'.encode('utf-8'), b'oops\n')
    # the online check, the send, one poll
    assert server.stats['requests'] == 3
    assert conn.exec_command('echo again')[:2] == (0, b'again\n')
    # later commands of the task reuse the marker: send and poll
    assert server.stats['requests'] == 5
    assert all('#maxlength=4000000' in text for text in server.sent)


def test_pipelined_input_inside_the_command(server):
    data = b'print("hi")\n' * 100
    rc, out, _err = connection().exec_command('cat', in_data=data)
    assert (rc, out) == (0, data)
    assert len(server.sent) == 1


def test_pipelined_input_larger_than_a_command_is_staged_in_chunks(server, tmp_path):
    data = os.urandom(150000)   # incompressible, so it stays this large
    conn = connection({'ansible_screenconnect_max_command_size': 20000})
    rc, out, _err = conn.exec_command('cat', in_data=data)
    assert (rc, out) == (0, data)
    chunks = len(server.sent) - 1
    assert chunks == -(-len(data) // conn._chunk_size()) and chunks >= 8
    assert all(len(text.encode()) <= 20000 for text in server.sent)
    # chunks cost one request each; the command itself send + poll after the online check
    assert server.stats['requests'] == 1 + chunks + 2
    assert not [name for name in os.listdir(str(tmp_path)) if name.startswith('.ansible-screenconnect-')]


def test_compressible_input_goes_compressed(server):
    data = (b'ZIPDATA = """' + base64.b64encode(b'\x00' * 30000) + b'"""\n') * 8
    rc, out, _err = connection({'ansible_screenconnect_max_command_size': 30000}).exec_command('cat', in_data=data)
    assert (rc, out) == (0, data)
    assert len(server.sent) == 1 and 'gzip -dc' in server.sent[0]


def test_killed_command_fails_with_the_agents_message(server):
    conn = connection({'ansible_screenconnect_command_timeout': 1})
    with pytest.raises(AnsibleError, match='the agent stopped the command: Killed after 1000 milliseconds'):
        conn.exec_command('sleep 5')


def test_truncated_output_fails_with_the_agents_message(server):
    conn = connection({'ansible_screenconnect_max_output_size': 5000})
    with pytest.raises(AnsibleError, match='Truncated output at 5000 characters'):
        conn.exec_command('head -c 20000 /dev/zero')


def test_task_timeout_caps_the_agents_timeout(server, monkeypatch):
    monkeypatch.setattr(plugin.signal, 'getitimer', lambda which: (12.0, 0.0))
    connection().exec_command('true')
    assert '#timeout=10000' in server.sent[-1]
    connection({'ansible_command_timeout': 5}).exec_command('true')
    assert '#timeout=5000' in server.sent[-1]


def test_offline_guest_is_unreachable_at_once_with_its_last_seen_time(server):
    server.online = False
    with pytest.raises(AnsibleConnectionFailure, match=r'session %s of host ws-0042 is offline \(last seen 2026-07-19T06:41:52Z\)'
                       % SESSION):
        connection().exec_command('true')
    assert server.sent == [] and server.stats['requests'] == 1


def test_offline_guest_with_queue_when_offline_gets_the_command(server):
    server.online = False
    conn = connection({'ansible_screenconnect_queue_when_offline': True,
                       'ansible_screenconnect_command_timeout': 1})
    waited = []

    def no_output(*args, **kwargs):
        waited.append(args)
        raise ScreenConnectError('no output yet', may_have_run=True)
    conn._connect()
    conn._backstage.wait = no_output
    with pytest.raises(AnsibleConnectionFailure, match='no output yet'):
        conn.exec_command('true')
    assert len(server.sent) == 1 and waited


def test_an_ambiguous_send_is_never_repeated(server):
    server.send_error = ScreenConnectError('HTTP 504 from SendCommandToSession', status=504, method='SendCommandToSession',
                                           may_have_run=True)
    with pytest.raises(AnsibleConnectionFailure, match='may have been queued on session .*so it was not sent again'):
        connection().exec_command('true')
    assert len(server.sent) == 1


def ansiballz(files, date_time):
    """A module payload shaped like ansible-core 2.19's AnsiballZ wrapper, printing its zip's files."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, 'w', zipfile.ZIP_DEFLATED) as archive:
        for name, content in files:
            archive.writestr(zipfile.ZipInfo(name, date_time), content)
    return ("import base64, io, sys, zipfile\n"
            "def main(zip_data, params):\n    return zip_data\n"
            "zip_data = main(\n    params='{}',\n    zip_data='%s',\n)\n"
            "z = zipfile.ZipFile(io.BytesIO(base64.b64decode(zip_data)))\n"
            "sys.stdout.write(''.join(z.read(n).decode() for n in sorted(z.namelist())))\n"
            % base64.b64encode(buffer.getvalue()).decode()).encode()


FILES = [('ansible/module_utils/basic.py', 'x = %r\n' % os.urandom(15000).hex()), ('__main__.py', 'print(1)\n')]


def test_module_code_is_sent_once_then_read_from_the_guests_cache(server, tmp_path):
    payload = ansiballz(FILES, (2026, 1, 1, 0, 0, 0))
    hostvars = {'ansible_screenconnect_payload_cache_dir': str(tmp_path / 'payloads'),
                'ansible_screenconnect_max_command_size': 20000}
    expected = ''.join(content for _name, content in sorted(FILES)).encode()
    assert len(payload) > 20000
    rc, out, err = connection(hostvars).exec_command(sys.executable + ' -', in_data=payload)
    assert (rc, out) == (0, expected), err
    first = server.stats['requests']
    # the online check, the run that missed (send, poll), the code's chunks, the run (send, poll)
    assert first == 1 + 2 + (len(server.sent) - 2) + 2 and len(server.sent) > 2
    # the next task: the same code, built again at another time
    payload = ansiballz(FILES, (2026, 8, 1, 0, 0, 0))
    assert connection(hostvars).exec_command(sys.executable + ' -', in_data=payload)[:2] == (0, expected)
    assert server.stats['requests'] - first == 3


def test_payload_cache_can_be_turned_off(server, tmp_path):
    conn = connection({'ansible_screenconnect_payload_cache': False,
                       'ansible_screenconnect_payload_cache_dir': str(tmp_path / 'payloads')})
    assert conn.exec_command(sys.executable + ' -', in_data=ansiballz(FILES, (2026, 1, 1, 0, 0, 0)))[0] == 0
    assert not (tmp_path / 'payloads').exists() and len(server.sent) == 1


# ---- files ---------------------------------------------------------------------------------------
def test_put_and_fetch_a_file_in_chunks_and_windows(server, tmp_path):
    data = os.urandom(300000)
    source, target, back = tmp_path / 'source.bin', tmp_path / 'on the guest.bin', tmp_path / 'back.bin'
    source.write_bytes(data)
    conn = connection({'ansible_screenconnect_max_command_size': 40000, 'ansible_screenconnect_max_output_size': 100000})
    conn.put_file(str(source), str(target))
    assert target.read_bytes() == data
    assert all(len(text.encode()) <= 40000 for text in server.sent)
    sent = len(server.sent)
    conn.fetch_file(str(target), str(back))
    assert back.read_bytes() == data
    window = conn._fetch_window()
    assert len(server.sent) - sent == -(-len(data) // window) and 50000 < window < 100000


def test_small_file_in_one_command(server, tmp_path):
    (tmp_path / 'small').write_bytes(b'')
    conn = connection()
    conn.put_file(str(tmp_path / 'small'), str(tmp_path / 'copy'))
    assert (tmp_path / 'copy').read_bytes() == b'' and len(server.sent) == 1
    conn.fetch_file(str(tmp_path / 'copy'), str(tmp_path / 'back'))
    assert (tmp_path / 'back').read_bytes() == b''


def test_a_corrupted_chunk_fails_the_sha256_and_leaves_no_file(server, tmp_path):
    data = os.urandom(60000)
    (tmp_path / 'source').write_bytes(data)
    changed = []

    def tamper(text):
        # one base64 character of the first chunk: same length, other bytes
        match = re.search(r"printf '%s' '([A-Za-z0-9+/]{8})", text)
        if match and not changed:
            changed.append(True)
            letter = 'B' if match.group(1)[0] != 'B' else 'C'
            text = text[:match.start(1)] + letter + text[match.start(1) + 1:]
        return text
    server.tamper = tamper
    conn = connection({'ansible_screenconnect_max_command_size': 20000})
    with pytest.raises(AnsibleError, match='SHA-256'):
        conn.put_file(str(tmp_path / 'source'), str(tmp_path / 'target'))
    assert changed and not (tmp_path / 'target').exists() and not (tmp_path / 'target.part').exists()


def test_a_file_that_changes_while_fetched_fails(server, tmp_path):
    target = tmp_path / 'growing'
    target.write_bytes(os.urandom(50000))
    server.after_run = lambda text: target.write_bytes(os.urandom(50000))
    conn = connection({'ansible_screenconnect_max_output_size': 20000})
    with pytest.raises(AnsibleError, match='did it change'):
        conn.fetch_file(str(target), str(tmp_path / 'back'))


def test_fetch_of_a_missing_file_names_it(server, tmp_path):
    with pytest.raises(AnsibleError, match='no readable file'):
        connection().fetch_file(str(tmp_path / 'nothing'), str(tmp_path / 'back'))


def test_command_size_too_small_for_chunks_says_what_to_set(server, tmp_path):
    (tmp_path / 'source').write_bytes(os.urandom(10000))
    with pytest.raises(AnsibleError, match='max_command_size 5000 leaves no room for file chunks: raise it to at least'):
        connection({'ansible_screenconnect_max_command_size': 5000}).put_file(str(tmp_path / 'source'), str(tmp_path / 'x'))


# ---- cost, reported -------------------------------------------------------------------------------
def test_stats_file_gets_a_line_per_task(server, tmp_path):
    stats = tmp_path / 'stats.jsonl'
    conn = connection({'ansible_screenconnect_stats_file': str(stats)})
    conn.exec_command('true')
    conn.close()
    line = yaml.safe_load(stats.read_text())
    assert line['requests'] == 3 and line['commands'] == 1 and line['session_id'] == SESSION


# ---- Windows ---------------------------------------------------------------------------------------
class Recorder:
    def __init__(self):
        self.texts = []

    def __call__(self, text, what, stdin=None):
        self.texts.append(text)
        return type('Result', (), {'rc': 0, 'stdout_bytes': b'ok', 'stderr_bytes': b'', 'stdout': 'ok', 'stderr': ''})()


def windows_connection(server, monkeypatch):
    conn = connection(shell='powershell')
    recorder = Recorder()
    monkeypatch.setattr(conn, '_run', recorder)
    return conn, recorder


def test_windows_is_chosen_by_the_shell_and_prefers_powershell_modules(server):
    conn = connection(shell='powershell')
    assert conn.module_implementation_preferences == ('.ps1', '.exe', '') and conn.always_pipeline_modules
    posix = connection()
    assert posix.module_implementation_preferences == ('',) and not posix.always_pipeline_modules


def test_windows_encoded_command_runs_as_a_script_block(server, monkeypatch):
    conn, recorder = windows_connection(server, monkeypatch)
    shell = shell_loader.get('powershell')
    cmd = shell._encode_script('Get-Date', strict_mode=False, preserve_rc=False)
    assert conn.exec_command(cmd) == (0, b'ok', b'')
    assert recorder.texts == [_guest_windows.exec_script('Get-Date', [])]


def test_windows_raw_command_keeps_its_exit_code(server, monkeypatch):
    conn, recorder = windows_connection(server, monkeypatch)
    conn.exec_command('hostname.exe')
    assert recorder.texts == [_guest_windows.exec_script('hostname.exe\nexit $LASTEXITCODE')]


def test_windows_module_input_inline_then_staged(server, monkeypatch):
    conn, recorder = windows_connection(server, monkeypatch)
    shell = shell_loader.get('powershell')
    # the pipelining bootstrap: a script that reads its input
    bootstrap = shell._encode_script('$input | Out-String', strict_mode=False, preserve_rc=False)
    script, _arguments = _guest_windows.decode_encoded_command(bootstrap)
    conn.exec_command(bootstrap, in_data=b'{"name": "x"}\n\0\0\0\0\nmodule')
    assert recorder.texts[-1] == _guest_windows.exec_inline(script, b'{"name": "x"}\n\0\0\0\0\nmodule')
    staged = []
    monkeypatch.setattr(conn, '_stage', lambda data, what: staged.append(data) or ('tok1', 9))
    conn.exec_command(bootstrap, in_data=b'x' * 200000)
    assert staged == [b'x' * 200000]
    assert recorder.texts[-1] == _guest_windows.exec_staged(script, 'tok1', 9)


def test_windows_put_and_fetch_texts(server, monkeypatch, tmp_path):
    conn, recorder = windows_connection(server, monkeypatch)
    (tmp_path / 'f').write_bytes(b'0123456789')
    conn.put_file(str(tmp_path / 'f'), 'C:\\Temp\\f.txt')
    assert recorder.texts == [_guest_windows.put_inline('C:\\Temp\\f.txt', b'0123456789',
                                                        hashlib.sha256(b'0123456789').hexdigest())]


# ---- become ----------------------------------------------------------------------------------------
def su_with_password():
    from ansible.plugins.loader import become_loader
    become = become_loader.get('su')
    become.set_options(direct={'become_user': 'alice', 'become_pass': 'secret'})
    become.build_become_command('true', shell_loader.get('sh'))   # as the action plugin does: sets the prompt
    return become


def test_a_password_prompt_is_refused_clearly(server):
    conn = connection()
    conn.set_become_plugin(su_with_password())
    with pytest.raises(AnsibleError, match='asked for a password on ws-0042: backstage commands cannot answer a prompt') as error:
        conn.exec_command("printf 'Password: '; exit 1")
    assert 'secret' not in str(error.value)


def test_become_without_a_prompt_runs(server):
    conn = connection()
    conn.set_become_plugin(su_with_password())
    assert conn.exec_command('echo as root, su asks nothing')[:2] == (0, b'as root, su asks nothing\n')
