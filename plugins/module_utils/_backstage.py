# -*- coding: utf-8 -*-
# Copyright: msp.screenconnect contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Backstage commands as a transport: the one layer session_command and the connection plugin share.

The agent gives back one text per command (the RanCommand event's Data): stdout and stderr mixed,
no exit code, cut short at #maxlength characters or #timeout milliseconds with a line of its own.
So every command is framed (frame()): the agent's directives first, then a wrapper that runs the
command with its stdout and stderr going to temp files and prints

    <begin marker>                 printed first: even a killed command can be matched
    <stdout, base64, any wrapping>
    .
    <stderr, base64, any wrapping>
    <end marker> <exit code>

The markers are random and built by the shell from two halves, so neither the queued text nor an
echo of it ever holds them; base64 has no `_`, `.` or space, so no output can fake them. parse()
reads that back into a CommandResult and detects the agent's own `Killed after N milliseconds` and
`Truncated output at N characters` lines: cut output is never complete.

Backstage(client, session_id) sends and finds results through the shared client (so the shared rate
limit holds): prepare() reads the session once (online, last seen, newest event), send() queues the
text once (never again after an ambiguous answer), wait() polls the details from soon after the send,
backing off, for the first RanCommand after our QueuedCommand, looked for in the session's Events and
under Connections[].Events. run() is all of it; `requests` counts what it cost.

Typical use (the connection plugin keeps `backstage` for the whole task):

    backstage = Backstage(client, session_id)
    result = backstage.run('uname -a', shell='sh', timeout_ms=30000)
    result.rc, result.stdout, result.stderr, backstage.requests     # 0, 'Linux ...', '', 3
    backstage.run('id')                                             # send + poll: 2 more requests
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import base64
import binascii
import re
import secrets
import time

from ansible_collections.msp.screenconnect.plugins.module_utils._sessions import QUEUED_COMMAND_EVENT, RAN_COMMAND_EVENT
from ansible_collections.msp.screenconnect.plugins.module_utils._transport import ScreenConnectError

__all__ = ['AGENT_DEFAULT_MAX_LENGTH', 'AGENT_DEFAULT_TIMEOUT_MS', 'Backstage', 'BackstageError', 'CommandResult',
           'GuestOfflineError', 'MayHaveRunError', 'OutputTimeoutError', 'SHELLS', 'find_output', 'frame',
           'framed_length', 'new_markers', 'parse', 'poll_delays']

SHELLS = ('sh', 'cmd', 'powershell')
# What the agent does without directives (docs/screenconnect-api.md, commands).
AGENT_DEFAULT_TIMEOUT_MS = 10000
AGENT_DEFAULT_MAX_LENGTH = 5000
SEND_METHOD = 'SendCommandToSession'

# Polling: the first look soon after the send, then backing off to POLL_MAX seconds.
POLL_FIRST = 0.5
POLL_FACTOR = 1.5
POLL_MAX = 5.0

_KILLED_RE = re.compile(r'Killed after (\d+) milliseconds?')
_TRUNCATED_RE = re.compile(r'Truncated output at (\d+) characters?')
_AGENT_LINE_RE = re.compile(r'(?:%s|%s)\.?' % (_KILLED_RE.pattern, _TRUNCATED_RE.pattern))
_BASE64_JUNK_RE = re.compile(r'\s+')
# Lines of the frame are ours; these are the only other things that may sit in a framed payload:
# certutil's armour around its base64 (cmd).
_ARMOUR_RE = re.compile(r'^-----(?:BEGIN|END) [A-Z ]+-----$')
_SEPARATOR = '.'


# ---- errors -------------------------------------------------------------------------------------
class BackstageError(ScreenConnectError):
    """A backstage command that did not give a result; .may_have_run says whether it may have run."""


class GuestOfflineError(BackstageError):
    """The guest is not connected: nothing was sent. .last_seen is when it was last seen (or None)."""

    def __init__(self, session_id, last_seen=None):
        self.session_id = session_id
        self.last_seen = last_seen
        super(GuestOfflineError, self).__init__(
            'the guest of session %s is offline (last seen %s): nothing was sent'
            % (session_id, last_seen or 'never'), method='GetSessionDetailsBySessionID')


class OutputTimeoutError(BackstageError):
    """The command was queued but its output did not arrive within .waited seconds."""

    def __init__(self, session_id, waited, polls):
        self.session_id = session_id
        self.waited = waited
        self.polls = polls
        super(OutputTimeoutError, self).__init__(
            'the command was queued on session %s but its output did not arrive within %.1f s (%d polls): it may still '
            'run, or be running' % (session_id, waited, polls), method='GetSessionDetailsBySessionID', may_have_run=True)


class MayHaveRunError(BackstageError):
    """The send got an ambiguous answer (HTTP 500/502/504, a timeout, an answer cut short): the
    command may have been queued, so it was not sent again."""

    def __init__(self, session_id, cause):
        self.cause = cause
        message = cause.message if isinstance(cause, ScreenConnectError) else str(cause)
        super(MayHaveRunError, self).__init__(
            'the command may have been queued on session %s (and may run), so it was not sent again: %s'
            % (session_id, message), status=getattr(cause, 'status', None),
            method=SEND_METHOD, server_message=getattr(cause, 'server_message', None), may_have_run=True)


# ---- framing ------------------------------------------------------------------------------------
def new_markers():
    """A random (begin, end) marker pair. `_` keeps them apart from any base64 text."""
    return ('__scb_%s__' % secrets.token_hex(12), '__sce_%s__' % secrets.token_hex(12))


def _halves(marker):
    middle = len(marker) // 2
    return marker[:middle], marker[middle:]


def _check_markers(markers):
    if not (isinstance(markers, (tuple, list)) and len(markers) == 2
            and all(isinstance(m, str) and re.match(r'^__sc[be]_[0-9a-f]{8,}__$', m) for m in markers)):
        raise ValueError('markers must be a pair from new_markers(), got %r' % (markers,))


def _heredoc_delimiter(*texts):
    """A here-document delimiter that is no line of any of the texts."""
    while True:
        delimiter = '__SC_EOF_%s' % secrets.token_hex(8)
        if not any(delimiter in text for text in texts):
            return delimiter


def _base64_lines(data, width=76):
    encoded = base64.b64encode(data).decode('ascii')
    return [encoded[index:index + width] for index in range(0, len(encoded), width)] or []


def _directives(shell, timeout_ms, max_length):
    lines = ['#!ps'] if shell == 'powershell' else []
    lines.append('#timeout=%d' % timeout_ms)
    lines.append('#maxlength=%d' % max_length)
    return lines


def framed_length(output_bytes):
    """The #maxlength that holds `output_bytes` of stdout and stderr together once framed: base64
    (4 characters per 3 bytes, in lines), certutil's armour for cmd, the markers and the exit code."""
    encoded = 4 * ((output_bytes + 2) // 3) + 2 * 4
    return encoded + encoded // 64 * 2 + 400


def frame(command, shell='sh', markers=None, timeout_ms=None, max_length=None, stdin=None):
    """The text to queue for `command`: directives (#!ps for powershell, #timeout=, #maxlength= on
    every command), then the wrapper for the shell.

    shell: sh (Linux, macOS), cmd or powershell (Windows). markers: from new_markers().
    timeout_ms, max_length: the agent's limits (default: its own, 10 s and 5000 characters).
    stdin: bytes fed to the command's standard input (sh only; else it reads nothing).
    """
    if shell not in SHELLS:
        raise ValueError('shell must be one of %s, got %r' % (', '.join(SHELLS), shell))
    if not isinstance(command, str):
        raise ValueError('command must be text, got %s' % type(command).__name__)
    _check_markers(markers)
    timeout_ms = AGENT_DEFAULT_TIMEOUT_MS if timeout_ms is None else int(timeout_ms)
    max_length = AGENT_DEFAULT_MAX_LENGTH if max_length is None else int(max_length)
    if timeout_ms < 1 or max_length < 1:
        raise ValueError('timeout_ms and max_length must be at least 1, got %d and %d' % (timeout_ms, max_length))
    if stdin is not None and shell != 'sh':
        raise ValueError('stdin is only supported for sh, not %s' % shell)
    wrapper = {'sh': _frame_sh, 'cmd': _frame_cmd, 'powershell': _frame_powershell}[shell]
    return '\n'.join(_directives(shell, timeout_ms, max_length) + wrapper(command, markers, stdin))


def _frame_sh(command, markers, stdin):
    (b1, b2), (e1, e2) = _halves(markers[0]), _halves(markers[1])
    body = command if command.endswith('\n') else command + '\n'
    stdin_lines = _base64_lines(stdin) if stdin is not None else []
    eof = _heredoc_delimiter(body)
    lines = [
        # The begin marker first, so a command the agent kills can still be matched.
        "printf '%%s%%s\\n' '%s' '%s'" % (b1, b2),
        '__sc_t=$(mktemp -d "${TMPDIR:-/tmp}/sc.XXXXXXXXXX") || exit 125',
        # The command from a file (no quoting, any length) and in a shell of its own: its `exit`
        # or a syntax error still leaves the trailer with its exit code.
        "cat > \"$__sc_t/c\" <<'%s'" % eof,
        body + eof,
    ]
    if stdin is not None:
        lines += ["cat > \"$__sc_t/i.b64\" <<'%s'" % eof] + stdin_lines + [eof]
        # GNU and busybox spell decode -d; older macOS -D.
        lines.append('{ base64 -d < "$__sc_t/i.b64" 2>/dev/null || base64 -D < "$__sc_t/i.b64"; } > "$__sc_t/i"')
        source = '"$__sc_t/i"'
    else:
        source = '/dev/null'
    lines += [
        '/bin/sh "$__sc_t/c" < %s > "$__sc_t/o" 2> "$__sc_t/e"' % source,
        '__sc_r=$?',
        'base64 < "$__sc_t/o"',
        "printf '.\\n'",
        'base64 < "$__sc_t/e"',
        "printf '%%s%%s %%s\\n' '%s' '%s' \"$__sc_r\"" % (e1, e2),
        'rm -rf "$__sc_t"',
    ]
    return lines


def _frame_cmd(command, markers, stdin):
    """cmd: the command goes in a .cmd file (written from base64 by certutil, so no character of it
    meets cmd's parser here) and runs in `cmd /d /c`, its stdout and stderr to files that certutil
    encodes. Everything before the begin marker (the agent's echo of these lines) is dropped."""
    (b1, b2), (e1, e2) = _halves(markers[0]), _halves(markers[1])
    tag = secrets.token_hex(8)
    script = '@echo off\r\n' + command.replace('\r\n', '\n').replace('\n', '\r\n') + '\r\n'
    lines = [
        '@echo off',
        'chcp 65001 >nul',
        'set "__sc_1=%s"' % b1,
        'set "__sc_2=%s"' % b2,
        'set "__sc_3=%s"' % e1,
        'set "__sc_4=%s"' % e2,
        'echo %__sc_1%%__sc_2%',
        'set "__sc_t=%%TEMP%%\\sc-%s"' % tag,
        'mkdir "%__sc_t%"',
        '(',
    ]
    lines += ['echo %s' % line for line in _base64_lines(script.encode('utf-8'), 64)]
    lines += [
        ') > "%__sc_t%\\c.b64"',
        'certutil -f -decode "%__sc_t%\\c.b64" "%__sc_t%\\c.cmd" >nul',
        'cmd /d /c ""%__sc_t%\\c.cmd"" <nul >"%__sc_t%\\o" 2>"%__sc_t%\\e"',
        'set "__sc_r=%ERRORLEVEL%"',
        'certutil -f -encode "%__sc_t%\\o" "%__sc_t%\\o.b64" >nul',
        'certutil -f -encode "%__sc_t%\\e" "%__sc_t%\\e.b64" >nul',
        'type "%__sc_t%\\o.b64" 2>nul',
        'echo .',
        'type "%__sc_t%\\e.b64" 2>nul',
        'echo %__sc_3%%__sc_4% %__sc_r%',
        'rmdir /s /q "%__sc_t%"',
    ]
    return lines


# The runner of a PowerShell command: its `exit N` ends only the script (& script.ps1), a native
# command's code is $LASTEXITCODE, and a failed last statement without one is 1.
_PS_RUNNER = '''$ErrorActionPreference = 'Continue'
[Console]::OutputEncoding = [Text.Encoding]::UTF8
$global:LASTEXITCODE = 0
& (Join-Path $PSScriptRoot 'c.ps1')
$__sc_ok = $?
if ($LASTEXITCODE) { exit $LASTEXITCODE }
if (-not $__sc_ok) { exit 1 }
exit 0
'''


def _frame_powershell(command, markers, stdin):
    """PowerShell: the command and a runner go to .ps1 files (from base64, so no quoting) and run in a
    child of the same PowerShell (Start-Process, stdout and stderr to files), so `exit` and
    errors end the child, not the frame."""
    (b1, b2), (e1, e2) = _halves(markers[0]), _halves(markers[1])
    encoded_command = base64.b64encode(command.encode('utf-8')).decode('ascii')
    encoded_runner = base64.b64encode(_PS_RUNNER.encode('utf-8')).decode('ascii')
    return [
        "$ProgressPreference = 'SilentlyContinue'",
        "[Console]::Out.Write('%s' + '%s' + \"`n\")" % (b1, b2),
        "$__sc_t = Join-Path ([IO.Path]::GetTempPath()) ('sc-' + [Guid]::NewGuid().ToString('N'))",
        '[void](New-Item -ItemType Directory -Path $__sc_t)',
        '$__sc_u = New-Object Text.UTF8Encoding $true',
        "[IO.File]::WriteAllText((Join-Path $__sc_t 'c.ps1'), "
        "[Text.Encoding]::UTF8.GetString([Convert]::FromBase64String('%s')), $__sc_u)" % encoded_command,
        "[IO.File]::WriteAllText((Join-Path $__sc_t 'r.ps1'), "
        "[Text.Encoding]::UTF8.GetString([Convert]::FromBase64String('%s')), $__sc_u)" % encoded_runner,
        "$__sc_p = Start-Process -FilePath (Get-Process -Id $PID).Path -ArgumentList @('-NoProfile', "
        "'-NonInteractive', '-ExecutionPolicy', 'Bypass', '-File', ('\"' + (Join-Path $__sc_t 'r.ps1') + '\"')) "
        "-RedirectStandardOutput (Join-Path $__sc_t 'o') -RedirectStandardError (Join-Path $__sc_t 'e') "
        '-NoNewWindow -PassThru',
        '$null = $__sc_p.Handle  # without it ExitCode stays empty',
        '$__sc_p.WaitForExit()',
        "$__sc_o = [Convert]::ToBase64String([IO.File]::ReadAllBytes((Join-Path $__sc_t 'o')))",
        "$__sc_e = [Convert]::ToBase64String([IO.File]::ReadAllBytes((Join-Path $__sc_t 'e')))",
        "[Console]::Out.Write($__sc_o + \"`n.`n\" + $__sc_e + \"`n\" + '%s' + '%s' + ' ' + $__sc_p.ExitCode + \"`n\")"
        % (e1, e2),
        'Remove-Item -LiteralPath $__sc_t -Recurse -Force -ErrorAction SilentlyContinue',
    ]


# ---- parsing ------------------------------------------------------------------------------------
class CommandResult:
    """What came back for one framed command.

    rc: the exit code (int), or None when the frame did not end (killed, truncated, lost).
    stdout, stderr: the decoded texts (UTF-8, undecodable bytes replaced); stdout_bytes and
    stderr_bytes the bytes. When the frame did not end they hold what could be read (maybe
    nothing: None). complete: the whole frame arrived and the agent cut nothing.
    killed_after_ms / truncated_at: the numbers of the agent's own lines; agent_message that line.
    error: why the result is not complete, in words (None when it is). raw: the event's text.
    """

    def __init__(self, raw, rc=None, stdout_bytes=None, stderr_bytes=None, complete=False, killed_after_ms=None,
                 truncated_at=None, agent_message=None, error=None):
        self.raw = raw
        self.rc = rc
        self.stdout_bytes = stdout_bytes
        self.stderr_bytes = stderr_bytes
        self.complete = complete
        self.killed_after_ms = killed_after_ms
        self.truncated_at = truncated_at
        self.agent_message = agent_message
        self.error = error

    @property
    def stdout(self):
        return None if self.stdout_bytes is None else self.stdout_bytes.decode('utf-8', 'replace')

    @property
    def stderr(self):
        return None if self.stderr_bytes is None else self.stderr_bytes.decode('utf-8', 'replace')

    def to_dict(self):
        return {'rc': self.rc, 'stdout': self.stdout, 'stderr': self.stderr, 'complete': self.complete,
                'killed_after_ms': self.killed_after_ms, 'truncated_at': self.truncated_at,
                'agent_message': self.agent_message, 'error': self.error}

    def __repr__(self):
        return 'CommandResult(%r)' % self.to_dict()


def _decode_section(lines, partial):
    """Bytes of one base64 section; with partial, whatever whole groups arrived. None if unreadable."""
    text = _BASE64_JUNK_RE.sub('', ''.join(line for line in lines if not _ARMOUR_RE.match(line.strip())))
    if partial:
        text = text[:len(text) // 4 * 4]
    try:
        return base64.b64decode(text.encode('ascii'), validate=True)
    except (binascii.Error, ValueError, UnicodeEncodeError):
        return None


def parse(raw_output, markers):
    """The CommandResult of a RanCommand's text for a command framed with `markers`."""
    _check_markers(markers)
    begin, end = markers
    raw = '' if raw_output is None else str(raw_output)
    text = raw.replace('\r\n', '\n').replace('\r', '\n')
    lines = text.split('\n')
    starts = [index for index, line in enumerate(lines) if line.strip() == begin]
    if not starts:
        killed, truncated, message = _agent_lines(text)
        return CommandResult(raw, killed_after_ms=killed, truncated_at=truncated, agent_message=message,
                             error=message or 'no framed output: the frame did not start (see raw)')
    body = lines[starts[0] + 1:]
    killed, truncated, message = _agent_lines('\n'.join(body))
    if message:
        # The agent's line may follow the cut text on the same line: take it off before decoding.
        body = [_AGENT_LINE_RE.sub('', line) for line in body]
    end_at = None
    rc = None
    for index, line in enumerate(body):
        found = re.match(r'^%s (-?\d+)$' % re.escape(end), line.strip())
        if found:
            end_at, rc = index, int(found.group(1))
            break
    payload = body[:end_at] if end_at is not None else body
    if _SEPARATOR in [line.strip() for line in payload]:
        split = [line.strip() for line in payload].index(_SEPARATOR)
        out_lines, err_lines, err_started = payload[:split], payload[split + 1:], True
    else:
        out_lines, err_lines, err_started = payload, [], False
    whole = end_at is not None and not message
    stdout = _decode_section(out_lines, partial=not whole and not err_started)
    stderr = _decode_section(err_lines, partial=not whole) if err_started else None
    if whole:
        if stdout is None or stderr is None:
            return CommandResult(raw, rc=rc, stdout_bytes=stdout, stderr_bytes=stderr,
                                 error='the framed output is unreadable (not base64): see raw')
        return CommandResult(raw, rc=rc, stdout_bytes=stdout, stderr_bytes=stderr, complete=True)
    if message:
        error = message
    else:
        error = 'the framed output ended early (no end marker): the command was cut short'
    return CommandResult(raw, stdout_bytes=stdout or None, stderr_bytes=stderr or None, killed_after_ms=killed,
                         truncated_at=truncated, agent_message=message, error=error)


def _agent_lines(text):
    """(killed_after_ms, truncated_at, the agent's own line(s)) found in `text`."""
    killed = _KILLED_RE.findall(text)
    truncated = _TRUNCATED_RE.findall(text)
    found = [match.group(0) for match in _AGENT_LINE_RE.finditer(text)]
    return (int(killed[-1]) if killed else None, int(truncated[-1]) if truncated else None,
            '; '.join(found) if found else None)


# ---- sending and finding the result ------------------------------------------------------------
def poll_delays(first=POLL_FIRST, factor=POLL_FACTOR, most=POLL_MAX):
    """Seconds to wait before each poll: soon after the send, then backing off to `most`."""
    delay = min(first, most)
    while True:
        yield delay
        delay = min(most, delay * factor)


def _newest_event_id(events):
    for event in reversed(events):
        if event.get('event_id'):
            return event['event_id']
    return None


def find_output(events, text, after_event_id=None, begin_marker=None):
    """The Data of the first RanCommand after our QueuedCommand (the last one whose Data is `text`),
    looked for after the event `after_event_id` when it is among the events; None until it is there.

    With `begin_marker`, a RanCommand that does not hold it is someone else's command that ran
    in between, and is passed over; and one that holds it is ours even when no QueuedCommand
    matches `text` (a server that stores the queued text otherwise), the marker being random."""
    start = 0
    if after_event_id:
        for index, event in enumerate(events):
            if event.get('event_id') == after_event_id:
                start = index + 1
    wanted = text.replace('\r\n', '\n').strip()
    queued_at = None
    for index in range(start, len(events)):
        event = events[index]
        if event['event_type'] == QUEUED_COMMAND_EVENT and (event['data'] or '').replace('\r\n', '\n').strip() == wanted:
            queued_at = index
    if queued_at is None:
        if begin_marker is None:
            return None
        queued_at = start - 1
    for event in events[queued_at + 1:]:
        if event['event_type'] == RAN_COMMAND_EVENT and (begin_marker is None or begin_marker in (event['data'] or '')):
            return event['data']
    return None


class Backstage:
    """Backstage commands to one session through the shared client.

    client: a ScreenConnectClient (its rate limiter and retries apply to every request here).
    marker, session: the newest event id and the normalized session already known (from an earlier
    Backstage of the same session, or a caller's cache): with both, the first command needs no
    prepare() (session['online'] is trusted as it is).
    sleep, clock: for tests.
    """

    def __init__(self, client, session_id, marker=None, session=None, poll_first=POLL_FIRST, poll_max=POLL_MAX,
                 sleep=time.sleep, clock=time.monotonic):
        self.client = client
        self.session_id = session_id
        self.marker = marker          # the newest event id seen: results are looked for after it
        self.session = session        # the normalized session of the last details answer
        self.requests = 0             # HTTP requests sent by this object, retries included
        self.polls = 0                # details requests made while waiting
        self.poll_first = poll_first
        self.poll_max = poll_max
        self._sleep = sleep
        self._clock = clock

    # ---- counting -------------------------------------------------------------------------------
    def _counted(self, call, *args):
        stats = getattr(self.client, 'stats', None)
        before = stats.get('requests') if isinstance(stats, dict) else None
        try:
            return call(*args)
        finally:
            after = stats.get('requests') if isinstance(stats, dict) else None
            self.requests += (after - before) if before is not None and after is not None else 1

    def _details(self):
        session, events = self._counted(self.client.get_session_details, self.session_id)
        self.session = session
        newest = _newest_event_id(events)
        if newest:
            self.marker = newest
        return session, events

    # ---- the steps ----------------------------------------------------------------------------------
    def prepare(self, allow_offline=False):
        """One details request: raises GuestOfflineError for an offline guest (unless allow_offline);
        returns the newest event id (the marker to look for results after)."""
        session, _events = self._details()
        if not session.get('online') and not allow_offline:
            raise GuestOfflineError(self.session_id, session.get('last_seen'))
        return self.marker

    def send(self, text):
        """Queue `text` (one SendCommandToSession). Never sent again after an ambiguous answer: that
        raises MayHaveRunError. A clear refusal (401, 403, 404, 413, ...) is the client's
        ScreenConnectError with may_have_run false; 429 and 503 the transport retries."""
        try:
            self._counted(self.client.call, SEND_METHOD, [self.session_id, text])
        except ScreenConnectError as error:
            if error.may_have_run:
                raise MayHaveRunError(self.session_id, error)
            raise

    def check(self, text, after_event_id=None, begin_marker=None):
        """One details request: the output of `text` if it has arrived, else None."""
        _session, events = self._details()
        return find_output(events, text, after_event_id, begin_marker)

    def wait(self, after_event_id, timeout, text, begin_marker=None, offline_fails=True):
        """Poll until the output of `text` (queued after the event `after_event_id`) arrives; its raw
        text. Raises OutputTimeoutError after `timeout` seconds. A failed read, or (offline_fails) a
        guest that went offline meanwhile, is a BackstageError that says the command was queued."""
        started = self._clock()
        deadline = started + timeout
        polls = 0
        for delay in poll_delays(self.poll_first, POLL_FACTOR, self.poll_max):
            left = deadline - self._clock()
            if polls and left <= 0:
                break
            self._sleep(max(0.0, min(delay, left)))
            polls += 1
            self.polls += 1
            try:
                output = self.check(text, after_event_id, begin_marker)
            except ScreenConnectError as error:
                raise BackstageError('the command was queued on session %s, but reading its output failed: %s'
                                     % (self.session_id, error.message), status=error.status, method=error.method,
                                     server_message=error.server_message, may_have_run=True)
            if output is not None:
                return output
            if offline_fails and self.session is not None and not self.session.get('online'):
                raise BackstageError('the guest of session %s went offline while its command was pending: the command '
                                     'may have run, or will run when it connects again' % self.session_id,
                                     method='GetSessionDetailsBySessionID', may_have_run=True)
        raise OutputTimeoutError(self.session_id, self._clock() - started, polls)

    def run(self, command, shell='sh', timeout_ms=None, max_length=None, wait_timeout=None, stdin=None,
            allow_offline=False):
        """prepare (only when no marker is known yet) + frame + send + wait + parse: a CommandResult.

        wait_timeout: seconds to wait for the output (default: the command's timeout plus 30 s).
        """
        if self.marker is None or self.session is None:
            self.prepare(allow_offline)
        elif not self.session.get('online') and not allow_offline:
            raise GuestOfflineError(self.session_id, self.session.get('last_seen'))
        after = self.marker
        markers = new_markers()
        text = frame(command, shell, markers, timeout_ms, max_length, stdin)
        self.send(text)
        if wait_timeout is None:
            wait_timeout = (AGENT_DEFAULT_TIMEOUT_MS if timeout_ms is None else timeout_ms) / 1000.0 + 30
        raw = self.wait(after, wait_timeout, text, markers[0])
        return parse(raw, markers)
