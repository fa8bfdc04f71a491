# -*- coding: utf-8 -*-
# Copyright: msp.screenconnect contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r'''
name: screenconnect
short_description: Run Ansible on a host through its ScreenConnect agent (backstage commands)
version_added: 0.2.0
description:
  - Runs every module, C(raw), C(script), C(copy), C(fetch) and C(template) on a host that Ansible reaches only
    through a ScreenConnect server, by queuing backstage commands on the host's Access session
    (C(SendCommandToSession)) and reading their output from the session's events. No SSH or WinRM is needed; the
    endpoint may sit behind any NAT, as long as its agent is connected.
  - The session is O(session_id), which the inventory plugin C(msp.screenconnect.screenconnect) sets for every host
    as the hostvar C(screenconnect_session_id).
  - Each command is framed between random markers so its exit code, stdout and stderr come back apart, and carries
    C(#timeout) and C(#maxlength) directives. A command is never sent twice after an answer that leaves open whether the
    server took it.
  - "Linux and macOS: commands run in C(sh) as the agent's user (root). Pipelining is emulated and on: a module's input
    goes inside the command when it fits in O(max_command_size), else it is written to a private temporary directory on
    the host in numbered base64 chunks first. Files move the same way, checked by length per chunk and by SHA-256 at
    the end, and are moved into place only then; C(fetch) reads a file in windows that fit the output limit."
  - "Windows (C(ansible_shell_type: powershell)): commands run with C(#!ps); the shell plugin's C(-EncodedCommand)
    script is decoded and run as a script block, with the module payload as its pipeline input, read from a file written
    in chunks. This is implemented but not run in CI (only the command texts are unit-tested)."
  - "Cost: every command is one C(SendCommandToSession) plus polls of C(GetSessionDetailsBySessionID); the first
    command of a task adds one details request (online check). The shared rate limit (O(rate_limit)) bounds all forks
    together. The requests of each task are logged at C(-vvv), and added to O(stats_file) when it is set."
author:
  - MSP ScreenConnect maintainers (@msp-ansible)
extends_documentation_fragment:
  - msp.screenconnect.connection
  - msp.screenconnect.connection.plugins
  - msp.screenconnect.connection.connection_plugin
options:
  session_id:
    description:
      - The ScreenConnect session (GUID) of the host's agent.
      - The inventory plugin sets C(screenconnect_session_id) for every host; C(ansible_screenconnect_session_id)
        overrides it.
    type: str
    vars:
      - name: screenconnect_session_id
      - name: ansible_screenconnect_session_id
  max_command_size:
    description:
      - Largest command, in bytes (UTF-8), queued on the session at once, directives and framing included.
      - Larger module input and files are sent in several commands. Servers and agents publish no maximum; public
        clients send commands of up to 64 KiB.
    type: int
    default: 60000
    env:
      - name: SCREENCONNECT_MAX_COMMAND_SIZE
    vars:
      - name: ansible_screenconnect_max_command_size
  max_output_size:
    description:
      - The C(#maxlength) directive of every command, in characters. Output past it is cut by the agent and the task
        fails with the agent's C(Truncated output at N characters) message.
      - C(fetch) reads files in windows that fit in it.
    type: int
    default: 4000000
    vars:
      - name: ansible_screenconnect_max_output_size
  command_timeout:
    description:
      - Seconds a command may run on the host (the C(#timeout) directive; the agent's own default is 10 seconds).
        A command that runs longer is killed by the agent, and the task fails with its C(Killed after N milliseconds)
        message.
      - When the task has a C(timeout), the time left of it is used when that is shorter.
    type: int
    default: 1800
    env:
      - name: SCREENCONNECT_COMMAND_TIMEOUT
    vars:
      - name: ansible_command_timeout
      - name: ansible_screenconnect_command_timeout
  queue_when_offline:
    description:
      - When the session's agent is offline, queue the commands anyway; the agent runs them when it connects again,
        and the task waits for that (up to O(command_timeout)).
      - By default, an offline host fails at once as unreachable, naming when it was last seen.
    type: bool
    default: false
    vars:
      - name: ansible_screenconnect_queue_when_offline
  pipelining:
    description:
      - Run modules with their input inside the command (or staged in chunks) instead of copying them to a temporary
        file first; a module then costs one command instead of about five.
      - On by default, unlike other connection plugins, as every command here costs API requests. C(become) with
        C(su) turns it off for that task (Ansible's rule).
    type: bool
    default: true
    env:
      - name: ANSIBLE_PIPELINING
    ini:
      - section: defaults
        key: pipelining
      - section: connection
        key: pipelining
    vars:
      - name: ansible_pipelining
      - name: ansible_screenconnect_pipelining
  payload_cache:
    description:
      - Keep each Python module's code (its AnsiballZ zip data) on Linux and macOS hosts, in O(payload_cache_dir),
        named by a hash of its content, so later tasks send only the module's wrapper and arguments.
      - A module whose code is not there yet exits before it runs; its code is then sent in chunks, checked by
        SHA-256, and the module runs.
      - The directory and its files must belong to the agent's user and be writable by no one else, or they are not
        used.
    type: bool
    default: true
    vars:
      - name: ansible_screenconnect_payload_cache
  payload_cache_dir:
    description:
      - The directory of O(payload_cache) on the host, created when missing. Every user that modules run as (C(become))
        must be able to read it.
    type: str
    default: /tmp/.ansible-screenconnect-payloads
    vars:
      - name: ansible_screenconnect_payload_cache_dir
  stats_file:
    description:
      - When set, one JSON line per task is appended to this file on the controller, with the host, the session, the
        API requests, the commands queued and the seconds spent.
    type: path
    env:
      - name: SCREENCONNECT_CONNECTION_STATS
    vars:
      - name: ansible_screenconnect_stats_file
notes:
  - The agent runs commands as root (Linux, macOS) or SYSTEM (Windows). C(become) to another user works with C(sudo)
    or C(su) without a password; a password prompt cannot be answered over backstage commands, so a task whose become
    method asks for one fails with a message saying so.
  - Every command and its output stay in the session's event history on the server, file chunks included.
seealso:
  - plugin: msp.screenconnect.screenconnect
    plugin_type: inventory
'''

EXAMPLES = r'''
# inventory: every session of the server, reached through its agent
# screenconnect.yml
#   plugin: msp.screenconnect.screenconnect
#   compose:
#     ansible_connection: "'msp.screenconnect.screenconnect'"

# or one host by hand
# [endpoints]
# ws-0042 ansible_connection=msp.screenconnect.screenconnect ansible_screenconnect_session_id=6c1b2b2e-...

- name: Facts and a package over ScreenConnect
  hosts: company_acme
  gather_facts: true
  vars:
    ansible_screenconnect_command_timeout: 600
  tasks:
    - name: Install a local package
      ansible.builtin.apt:
        deb: /tmp/tool.deb
'''

import base64
import gzip
import hashlib
import json
import os
import signal
import time
import uuid

from ansible.errors import AnsibleConnectionFailure, AnsibleError, AnsibleFileNotFound
from ansible.module_utils.common.text.converters import to_bytes, to_native, to_text
from ansible.plugins.connection import ConnectionBase
from ansible.utils.display import Display

from ansible_collections.msp.screenconnect.plugins.module_utils import _backstage, _client
from ansible_collections.msp.screenconnect.plugins.module_utils._sessions import is_session_id
from ansible_collections.msp.screenconnect.plugins.plugin_utils import _guest_posix, _guest_windows

display = Display()

# Polling may go on this long past the command's own timeout: the agent reports after killing it.
WAIT_GRACE_SECONDS = 60
# Room left in a command for the framing and directives the backstage layer adds.
FRAME_SLACK = 64
MIN_CHUNK = 4096
# Compressed module input is used only when it saves at least this share.
COMPRESS_GAIN = 0.9


class Connection(ConnectionBase):
    """Ansible over ScreenConnect backstage commands."""

    transport = 'msp.screenconnect.screenconnect'
    has_pipelining = True
    has_native_async = False
    has_tty = False
    # Keyword arguments of the backstage layer (tests make its polls instant).
    _backstage_options = {}

    def __init__(self, *args, **kwargs):
        super(Connection, self).__init__(*args, **kwargs)
        self._client = None
        self._backstage = None
        self._session_id = None
        self._commands = 0
        self._started = time.time()
        self._requests_before = 0

    # As winrm and psrp on Windows: PowerShell modules first, and their exec wrapper always reads its payload as input.
    @property
    def module_implementation_preferences(self):
        return ('.ps1', '.exe', '') if self._windows else ('',)

    @property
    def always_pipeline_modules(self):
        return self._windows

    @property
    def allow_executable(self):
        return not self._windows

    # ---- the guest's family ----------------------------------------------------------------------
    @property
    def _windows(self):
        return getattr(self._shell, 'SHELL_FAMILY', '') == 'powershell'

    @property
    def _guest(self):
        return _guest_windows if self._windows else _guest_posix

    # ---- connecting -------------------------------------------------------------------------
    def _connect(self):
        if self._connected:
            return self
        session_id = self.get_option('session_id')
        if not session_id:
            raise AnsibleError('msp.screenconnect.screenconnect: host %s has no ScreenConnect session: set '
                               'ansible_screenconnect_session_id, or use the inventory plugin msp.screenconnect.screenconnect '
                               '(it sets screenconnect_session_id)' % self._host_name())
        session_id = to_text(session_id).strip().strip('{}')
        if not is_session_id(session_id):
            raise AnsibleError('msp.screenconnect.screenconnect: session id %r of host %s is not a GUID: set '
                               'ansible_screenconnect_session_id to the session\'s id' % (session_id, self._host_name()))
        for name, low in (('max_command_size', 4096), ('max_output_size', 4096), ('command_timeout', 1)):
            if self.get_option(name) < low:
                raise AnsibleError('msp.screenconnect.screenconnect: %s must be at least %d, got %d'
                                   % (name, low, self.get_option(name)))
        try:
            self._client = _client.from_options(self.get_option)
        except _client.ConfigError as error:
            raise AnsibleError('msp.screenconnect.screenconnect: %s' % error)
        if self._client.api != 'rest':
            raise AnsibleError('msp.screenconnect.screenconnect: backstage commands need api rest (the RESTful API '
                               'Manager); api %s cannot queue them' % self._client.api)
        for warning in self._client.warnings:
            display.warning('msp.screenconnect.screenconnect: %s' % warning)
        self._session_id = session_id
        self._backstage = _backstage.Backstage(self._client, session_id, **self._backstage_options)
        self._requests_before = self._client.stats['requests']
        try:
            self._backstage.prepare(allow_offline=self.get_option('queue_when_offline'))
        except _backstage.GuestOfflineError as error:
            raise AnsibleConnectionFailure(
                'ScreenConnect session %s of host %s is offline (last seen %s): its agent runs commands only while it '
                'is connected. Start the agent, or set ansible_screenconnect_queue_when_offline to queue the commands '
                'until it connects.' % (session_id, self._host_name(), error.last_seen or 'never'))
        except _client.ScreenConnectError as error:
            raise AnsibleConnectionFailure('ScreenConnect session %s: %s' % (session_id, self._client.redact(str(error))))
        online = self._backstage.session.get('online')
        self._connected = True
        display.vvv('SCREENCONNECT: session %s %s' % (session_id, 'online' if online else 'offline, queuing'),
                    host=self._host_name())
        return self

    def _host_name(self):
        return self._play_context.remote_addr or '?'

    # ---- one command --------------------------------------------------------------------------
    def _timeout_ms(self):
        """#timeout: command_timeout, or the time left of the task's own timeout when shorter."""
        seconds = float(self.get_option('command_timeout'))
        left = signal.getitimer(signal.ITIMER_REAL)[0]
        if left > 0:
            # A little less, so the agent kills the command and reports before the task gives up.
            seconds = min(seconds, max(1.0, left - 2.0))
        return int(seconds * 1000)

    def _limits(self):
        return dict(timeout_ms=self._timeout_ms(), max_length=self.get_option('max_output_size'))

    def _run(self, text, what, stdin=None):
        """Queue one command, wait for its result; raises on a command the agent cut short."""
        self._connect()
        limits = self._limits()
        self._commands += 1
        before = self._client.stats['requests']
        try:
            result = self._backstage.run(text, self._guest.SHELL, stdin=stdin, allow_offline=self.get_option('queue_when_offline'),
                                         wait_timeout=limits['timeout_ms'] / 1000.0 + WAIT_GRACE_SECONDS, **limits)
        except _client.ScreenConnectError as error:
            raise AnsibleConnectionFailure('ScreenConnect session %s, %s: %s'
                                           % (self._session_id, what, self._client.redact(str(error))))
        display.vvv('SCREENCONNECT: %s: rc %s, %d requests' % (what, result.rc, self._client.stats['requests'] - before),
                    host=self._host_name())
        if result.killed_after_ms is not None:
            raise AnsibleError('ScreenConnect session %s, %s: the agent stopped the command: %s (its #timeout was %d ms: '
                               'raise command_timeout, or the task timeout)'
                               % (self._session_id, what, result.agent_message, limits['timeout_ms']))
        if result.truncated_at is not None:
            raise AnsibleError('ScreenConnect session %s, %s: the agent cut the output: %s (raise max_output_size)'
                               % (self._session_id, what, result.agent_message))
        if not result.complete or result.rc is None:
            raise AnsibleError('ScreenConnect session %s, %s: %s' % (self._session_id, what, result.error))
        return result

    def _fits(self, text, stdin=None):
        framed = _backstage.frame(text, self._guest.SHELL, _backstage.new_markers(), stdin=stdin, **self._limits())
        return len(to_bytes(framed)) + FRAME_SLACK <= self.get_option('max_command_size')

    def _chunk_size(self):
        """Raw bytes per chunk command: what the room left in max_command_size holds, measured on the framed
        text (PowerShell's frame encodes the command once more, so the cost per byte differs)."""
        def framed(data):
            return len(to_bytes(_backstage.frame(self._guest.chunk('x' * 32, 999999, data), self._guest.SHELL,
                                                 _backstage.new_markers(), **self._limits())))
        probe = 3 * 1024
        empty = framed(b'')
        per_byte = float(framed(b'\0' * probe) - empty) / probe
        size = int((self.get_option('max_command_size') - empty - FRAME_SLACK) / per_byte) // 3 * 3
        if size < MIN_CHUNK:
            raise AnsibleError('msp.screenconnect.screenconnect: max_command_size %d leaves no room for file chunks: '
                               'raise it to at least %d' % (self.get_option('max_command_size'),
                                                            empty + FRAME_SLACK + int(MIN_CHUNK * per_byte) + 1))
        return size

    def _stage(self, data, what):
        """Queue data into the guest's staging directory in numbered chunks; returns (token, count).

        The chunks are sent without waiting for their output (one request each): the command that uses
        them waits on the guest until every part is there and checks them, and the backstage layer
        passes over their outputs when it looks for that command's own."""
        token = uuid.uuid4().hex
        size = self._chunk_size()
        count = max(1, (len(data) + size - 1) // size)
        before = self._client.stats['requests']
        for index in range(count):
            text = _backstage.frame(self._guest.chunk(token, index, data[index * size:(index + 1) * size]),
                                    self._guest.SHELL, _backstage.new_markers(), **self._limits())
            self._commands += 1
            try:
                self._backstage.send(text)
            except _client.ScreenConnectError as error:
                raise AnsibleConnectionFailure('ScreenConnect session %s, %s, chunk %d of %d: %s'
                                               % (self._session_id, what, index + 1, count, self._client.redact(str(error))))
        display.vvv('SCREENCONNECT: %s: %d bytes in %d chunks, %d requests'
                    % (what, len(data), count, self._client.stats['requests'] - before), host=self._host_name())
        return token, count

    # ---- ConnectionBase ------------------------------------------------------------------------
    def exec_command(self, cmd, in_data=None, sudoable=True):
        super(Connection, self).exec_command(cmd, in_data=in_data, sudoable=sudoable)
        self._connect()
        display.vvv('SCREENCONNECT: EXEC %s' % (cmd if len(cmd) < 2000 else cmd[:2000] + '...'), host=self._host_name())
        if self._windows:
            result = self._run(self._windows_command(cmd, in_data), 'command')
        else:
            result = self._posix_exec(cmd, in_data)
        stdout, stderr = result.stdout_bytes or b'', result.stderr_bytes or b''
        if sudoable and self.become and getattr(self.become, '_id', None):
            # The agent cannot answer a password prompt: say so rather than fail on a half-run module.
            if self.become.prompt and self.become.check_password_prompt(stdout + stderr):
                raise AnsibleError('become method %s asked for a password on %s: backstage commands cannot answer a '
                                   'prompt. The agent runs as root (SYSTEM on Windows), so become to another user needs '
                                   'no password: remove the become password (ansible_become_password / -K) or allow the '
                                   'user without one' % (self.become.name, self._host_name()))
        return result.rc, stdout, stderr

    def _posix_exec(self, cmd, in_data):
        """Run cmd with in_data; a Python module's code comes from the guest's payload cache when it is there."""
        split = None
        if in_data is not None and self.get_option('payload_cache'):
            split = _guest_posix.split_payload(in_data, self.get_option('payload_cache_dir'))
        if split is None:
            text, stdin = self._posix_command(cmd, in_data)
            return self._run(text, 'command', stdin=stdin)
        key, data, light = split
        cache_dir = self.get_option('payload_cache_dir')
        text, stdin = self._posix_command(_guest_posix.cached_run(cmd, key, cache_dir), light)
        result = self._run(text, 'module with cached code', stdin=stdin)
        if result.rc != _guest_posix.RC_PAYLOAD_MISS or _guest_posix.PAYLOAD_MISS not in (result.stderr or ''):
            return result
        # Nothing ran: send the code (checked on arrival) and run the module with it.
        display.vvv('SCREENCONNECT: module code %s is not on the host yet: sending it' % key[:16], host=self._host_name())
        token, count = self._stage(data, 'module code')
        text, stdin = self._posix_command(_guest_posix.cache_store(key, token, count, data, cache_dir)
                                          + _guest_posix.cached_run(cmd, key, cache_dir), light)
        return self._run(text, 'module', stdin=stdin)

    def _posix_command(self, cmd, in_data):
        """(text, stdin) for sh: in_data rides in the command when it fits, else it is staged first."""
        if in_data is None:
            return cmd, None
        payload, compressed = _maybe_compress(in_data)
        if compressed:
            cmd = 'gzip -dc | (\n%s\n)' % cmd
        if self._fits(cmd, stdin=payload):
            return cmd, payload
        token, count = self._stage(payload, 'module input')
        return _guest_posix.exec_staged(cmd, token, count), None

    def _windows_command(self, cmd, in_data):
        decoded = _guest_windows.decode_encoded_command(cmd)
        if decoded is None:
            # Any other text (raw, or a command file) runs as PowerShell itself; psrp does the same.
            script, arguments = ('%s\nexit $LASTEXITCODE' % cmd if in_data is None else cmd), []
        else:
            script, arguments = decoded
        if in_data is None:
            return _guest_windows.exec_script(script, arguments)
        text = _guest_windows.exec_inline(script, in_data, arguments)
        if self._fits(text):
            return text
        token, count = self._stage(in_data, 'module input')
        return _guest_windows.exec_staged(script, token, count, arguments)

    def put_file(self, in_path, out_path):
        super(Connection, self).put_file(in_path, out_path)
        self._connect()
        out_path = self._unquote(out_path)
        display.vvv('SCREENCONNECT: PUT %s TO %s' % (in_path, out_path), host=self._host_name())
        if not os.path.isfile(to_bytes(in_path, errors='surrogate_or_strict')):
            raise AnsibleFileNotFound('file or module does not exist: %s' % to_native(in_path))
        with open(to_bytes(in_path, errors='surrogate_or_strict'), 'rb') as source:
            data = source.read()
        sha256 = hashlib.sha256(data).hexdigest()
        text = self._guest.put_inline(out_path, data, sha256)
        if not self._fits(text):
            token, count = self._stage(data, 'put %s' % out_path)
            text = self._guest.put_staged(out_path, token, count, len(data), sha256)
        result = self._run(text, 'put %s' % out_path)
        if result.rc != 0:
            raise AnsibleError('failed to transfer %s to %s on %s: %s' % (in_path, out_path, self._host_name(), _result_text(result)))

    def fetch_file(self, in_path, out_path):
        super(Connection, self).fetch_file(in_path, out_path)
        self._connect()
        in_path = self._unquote(in_path)
        display.vvv('SCREENCONNECT: FETCH %s TO %s' % (in_path, out_path), host=self._host_name())
        window = self._fetch_window()
        data = bytearray()
        size = sha256 = None
        offset = 0
        while size is None or offset < size:
            result = self._run(self._guest.fetch_window(in_path, offset, window, first=size is None),
                               'fetch %s at %d' % (in_path, offset))
            if result.rc != 0:
                raise AnsibleError('failed to fetch %s from %s: %s' % (in_path, self._host_name(), _result_text(result)))
            output = result.stdout_bytes or b''
            if size is None:
                try:
                    size, sha256, output = self._guest.parse_fetch_header(output)
                except ValueError as error:
                    raise AnsibleError('failed to fetch %s from %s: %s' % (in_path, self._host_name(), error))
            piece = output
            if self._guest.FETCH_BASE64:
                try:
                    piece = base64.b64decode(b''.join(output.split()), validate=True)
                except (TypeError, ValueError) as error:
                    raise AnsibleError('failed to fetch %s from %s: bad base64 at offset %d: %s'
                                       % (in_path, self._host_name(), offset, error))
            if len(piece) != min(window, size - offset):
                raise AnsibleError('failed to fetch %s from %s: %d bytes came at offset %d, expected %d (did the file change?)'
                                   % (in_path, self._host_name(), len(piece), offset, min(window, size - offset)))
            data += piece
            offset += window
        if hashlib.sha256(data).hexdigest() != sha256:
            raise AnsibleError('failed to fetch %s from %s: SHA-256 of the %d bytes read differs from the file\'s (did it change?)'
                               % (in_path, self._host_name(), len(data)))
        with open(to_bytes(out_path, errors='surrogate_or_strict'), 'wb') as target:
            target.write(data)

    def _unquote(self, path):
        # ansible-core before 2.21 quotes Windows paths for put/fetch (psrp unquotes them); 2.21 does not.
        unquote = getattr(self._shell, '_unquote', None) if self._windows else None
        return unquote(path) if unquote else path

    def _fetch_window(self):
        """Raw bytes per fetch command, so that its framed output (the header line, the bytes, base64 once
        more on Windows) fits in #maxlength."""
        limit = self.get_option('max_output_size')
        window = limit
        while window > MIN_CHUNK:
            output = window if not self._guest.FETCH_BASE64 else (window + 2) // 3 * 4
            if _backstage.framed_length(output + 120) <= limit:
                return window
            window = window * 9 // 10 // 1024 * 1024
        return MIN_CHUNK

    def reset(self):
        self.close()

    def close(self):
        if self._client is not None and self._connected:
            requests = self._client.stats['requests'] - self._requests_before
            seconds = time.time() - self._started
            display.vvv('SCREENCONNECT: %d API requests, %d commands, %.1f s for this task on session %s'
                        % (requests, self._commands, seconds, self._session_id), host=self._host_name())
            self._write_stats(requests, seconds)
        self._connected = False

    def _write_stats(self, requests, seconds):
        path = self.get_option('stats_file')
        if not path:
            return
        line = json.dumps({'host': self._host_name(), 'session_id': self._session_id, 'requests': requests,
                           'commands': self._commands, 'seconds': round(seconds, 3),
                           'rate_limited': self._client.stats.get('rate_limited', 0)}, sort_keys=True)
        try:
            with open(path, 'a') as handle:
                handle.write(line + '\n')
        except (IOError, OSError) as error:
            display.warning('msp.screenconnect.screenconnect: cannot write stats_file %s: %s' % (path, error))


def _result_text(result):
    text = (result.stderr or '').strip() or (result.stdout or '').strip()
    return 'rc %s: %s' % (result.rc, text[-2000:] or '(no output)')


def _maybe_compress(data):
    """gzip the module input when that saves enough (Python module payloads are partly base64 text)."""
    packed = gzip.compress(data, 6)
    if len(packed) <= len(data) * COMPRESS_GAIN:
        return packed, True
    return data, False
