"""The backstage-command layer (_backstage.py): framing, parsing what the agent sends back, sending
exactly once, polling with backoff, and what a command costs in requests.

No socket and no shell: the agent's output is built here the way the sh wrapper prints it
(tests/system/test_backstage.py runs the same frames in a real /bin/sh through the simulator's agent).
"""

import base64
import re

import pytest
import requests
from hypothesis import given, settings
from hypothesis import strategies as st
from requests.structures import CaseInsensitiveDict

from ansible_collections.msp.screenconnect.plugins.module_utils import _backstage as b
from ansible_collections.msp.screenconnect.plugins.module_utils import _client
from ansible_collections.msp.screenconnect.plugins.module_utils._ratelimit import SharedRateLimiter
from ansible_collections.msp.screenconnect.plugins.module_utils._sessions import details_events
from ansible_collections.msp.screenconnect.plugins.module_utils._transport import ScreenConnectError

SESSION_ID = '2c279e01-5ba2-4c6c-9276-8fd373ecc758'
MARKERS = ('__scb_000102030405060708090a0b__', '__sce_0c0d0e0f1011121314151617__')


def printed(stdout=b'', stderr=b'', rc=0, markers=MARKERS, width=76, newline='\n', before='', end=True):
    """What the wrapper prints: the begin marker, stdout and stderr in base64 (wrapped like GNU
    base64), and the end marker with the exit code."""
    def section(data):
        encoded = base64.b64encode(data).decode('ascii')
        return [encoded[i:i + width] for i in range(0, len(encoded), width)]
    lines = [markers[0]] + section(stdout) + ['.'] + section(stderr)
    if end:
        lines.append('%s %d' % (markers[1], rc))
    return before + newline.join(lines) + newline


# ---- framing ----------------------------------------------------------------------------------------

@pytest.mark.parametrize('shell,first', [('sh', ['#timeout=10000', '#maxlength=5000']),
                                         ('cmd', ['#timeout=10000', '#maxlength=5000']),
                                         ('powershell', ['#!ps', '#timeout=10000', '#maxlength=5000'])])
def test_directives_come_first_on_every_command(shell, first):
    text = b.frame('hostname', shell, b.new_markers())
    assert text.split('\n')[:len(first)] == first
    assert b.frame('x', shell, MARKERS, timeout_ms=90000, max_length=123).split('\n')[len(first) - 2:len(first)] == [
        '#timeout=90000', '#maxlength=123']


@pytest.mark.parametrize('shell', b.SHELLS)
def test_the_queued_text_never_holds_a_marker(shell):
    markers = b.new_markers()
    text = b.frame('echo "hello"', shell, markers)
    assert markers[0] not in text and markers[1] not in text
    assert all(half in text for marker in markers for half in (marker[:len(marker) // 2], marker[len(marker) // 2:]))


def test_markers_are_random_and_no_base64():
    pairs = set(b.new_markers() for _n in range(50))
    assert len(pairs) == 50
    begin, end = pairs.pop()
    assert re.match(r'^__scb_[0-9a-f]{24}__$', begin) and re.match(r'^__sce_[0-9a-f]{24}__$', end)
    every_symbol = base64.b64encode(bytes(range(256)) * 3).decode() + base64.b64encode(b'x').decode()
    assert len(set(every_symbol)) == 65 and not set('_. ') & set(every_symbol)


@pytest.mark.parametrize('kwargs,problem', [
    ({'shell': 'bash'}, 'shell must be one of sh, cmd, powershell'),
    ({'markers': ('begin', 'end')}, 'markers must be a pair from new_markers()'),
    ({'markers': None}, 'markers must be a pair'),
    ({'timeout_ms': 0}, 'at least 1'),
    ({'max_length': 0}, 'at least 1'),
    ({'shell': 'cmd', 'stdin': b'x'}, 'stdin is only supported for sh'),
])
def test_bad_frame_arguments_are_refused(kwargs, problem):
    arguments = dict({'shell': 'sh', 'markers': MARKERS}, **kwargs)
    with pytest.raises(ValueError, match=re.escape(problem)):
        b.frame('hostname', **arguments)


def test_sh_frame_runs_the_command_from_a_file_in_a_shell_of_its_own():
    command = "echo 'a' \"b\" $HOME\nexit 3\n__SC_EOF_not_the_delimiter"
    text = b.frame(command, 'sh', MARKERS, stdin=b'\x00\xffinput')
    lines = text.split('\n')
    assert lines[2] == "printf '%s%s\\n' '__scb_0001020304' '05060708090a0b__'"  # first, before anything can fail
    opener = [line for line in lines if line.startswith('cat > "$__sc_t/c" <<')][0]
    delimiter = re.match(r"^cat > \"\$__sc_t/c\" <<'(__SC_EOF_[0-9a-f]{16})'$", opener).group(1)
    start = lines.index(opener) + 1
    assert '\n'.join(lines[start:lines.index(delimiter, start)]) == command  # verbatim, quoted here-document
    stdin_at = lines.index('cat > "$__sc_t/i.b64" <<\'%s\'' % delimiter)
    assert base64.b64decode(lines[stdin_at + 1]) == b'\x00\xffinput'
    assert '/bin/sh "$__sc_t/c" < "$__sc_t/i" > "$__sc_t/o" 2> "$__sc_t/e"' in lines
    assert '/bin/sh "$__sc_t/c" < /dev/null > "$__sc_t/o" 2> "$__sc_t/e"' in b.frame('id', 'sh', MARKERS).split('\n')
    assert lines[-2] == "printf '%s%s %s\\n' '__sce_0c0d0e0f10' '11121314151617__' \"$__sc_r\""


def test_cmd_frame_is_exact(monkeypatch):
    monkeypatch.setattr(b.secrets, 'token_hex', lambda n: 'ab' * n)
    command = 'dir "C:\\Program Files"\nexit /b 3 & rem 100%% ^& <done> | "quoted" %%PATH%%'
    script = base64.b64encode(('@echo off\r\n%s\r\n' % command.replace('\n', '\r\n')).encode()).decode()
    assert len(script) > 64
    assert b.frame(command, 'cmd', MARKERS, 30000, 9000) == '\n'.join([
        '#timeout=30000',
        '#maxlength=9000',
        '@echo off',
        'chcp 65001 >nul',
        'set "__sc_1=__scb_0001020304"',
        'set "__sc_2=05060708090a0b__"',
        'set "__sc_3=__sce_0c0d0e0f10"',
        'set "__sc_4=11121314151617__"',
        'echo %__sc_1%%__sc_2%',
        'set "__sc_t=%TEMP%\\sc-abababababababab"',
        'mkdir "%__sc_t%"',
        '(',
    ] + ['echo %s' % script[i:i + 64] for i in range(0, len(script), 64)] + [
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
    ])


def test_powershell_frame_writes_the_command_and_its_runner_and_reads_the_exit_code():
    command = "Get-Service 'Spooler'\nexit 4"
    text = b.frame(command, 'powershell', MARKERS, 60000, 100000)
    lines = text.split('\n')
    assert lines[:5] == ['#!ps', '#timeout=60000', '#maxlength=100000', "$ProgressPreference = 'SilentlyContinue'",
                         "[Console]::Out.Write('__scb_0001020304' + '05060708090a0b__' + \"`n\")"]
    encoded = re.findall(r"FromBase64String\('([^']*)'\)", text)
    assert base64.b64decode(encoded[0]).decode() == command
    runner = base64.b64decode(encoded[1]).decode()
    assert "& (Join-Path $PSScriptRoot 'c.ps1')" in runner and 'if ($LASTEXITCODE) { exit $LASTEXITCODE }' in runner
    assert 'if (-not $__sc_ok) { exit 1 }' in runner
    assert "-RedirectStandardOutput (Join-Path $__sc_t 'o') -RedirectStandardError (Join-Path $__sc_t 'e')" in text
    assert lines[-2] == ("[Console]::Out.Write($__sc_o + \"`n.`n\" + $__sc_e + \"`n\" + '__sce_0c0d0e0f10' + "
                         "'11121314151617__' + ' ' + $__sc_p.ExitCode + \"`n\")")


def test_framed_length_holds_the_base64_of_the_output():
    assert b.framed_length(0) >= 400
    for size in (1, 100, 5000, 10 ** 6):
        assert b.framed_length(size) >= 4 * size // 3 + 2 * 4 * size // 3 // 64 + 100


# ---- parsing ---------------------------------------------------------------------------------------

@settings(max_examples=200, deadline=None)
@given(stdout=st.binary(max_size=3000), stderr=st.binary(max_size=300), rc=st.integers(0, 255),
       width=st.sampled_from([64, 76, 100000]), newline=st.sampled_from(['\n', '\r\n']),
       before=st.text(max_size=80).filter(lambda text: MARKERS[0] not in text))
def test_any_bytes_come_back_exactly(stdout, stderr, rc, width, newline, before):
    result = b.parse(printed(stdout, stderr, rc, width=width, newline=newline,
                             before=before + newline if before else ''), MARKERS)
    assert result.complete and result.error is None
    assert (result.rc, result.stdout_bytes, result.stderr_bytes) == (rc, stdout, stderr)
    assert result.stdout == stdout.decode('utf-8', 'replace')


@settings(max_examples=50, deadline=None)
@given(noise=st.sampled_from(['%s 0' % MARKERS[1], MARKERS[0], '.', 'Killed after 5 milliseconds',
                              'Truncated output at 9 characters', '__sce_ffffffffffffffffffffffff__ 1']))
def test_output_that_looks_like_the_frame_is_only_output(noise):
    stdout = ('%s\n%s\n' % (noise, noise)).encode()
    result = b.parse(printed(stdout, noise.encode(), 7), MARKERS)
    assert result.complete and (result.rc, result.stdout_bytes, result.stderr) == (7, stdout, noise)


def test_cmd_echo_before_the_frame_is_dropped_and_certutil_armour_is_read():
    raw = printed(b'WS-1\r\n', b'', 0, width=64, newline='\r\n', before='C:\\WINDOWS\\system32>@echo off\r\n')
    armoured = raw.replace('\r\n.\r\n', '\r\n-----END CERTIFICATE-----\r\n.\r\n').replace(
        MARKERS[0] + '\r\n', MARKERS[0] + '\r\n-----BEGIN CERTIFICATE-----\r\n')
    for text in (raw, armoured):
        result = b.parse(text, MARKERS)
        assert result.complete and result.stdout == 'WS-1\r\n' and result.stderr == '' and result.rc == 0


def test_a_killed_command_is_matched_but_never_complete():
    result = b.parse(MARKERS[0] + '\nKilled after 30000 milliseconds\n', MARKERS)
    assert not result.complete and result.rc is None and result.stdout is None
    assert result.killed_after_ms == 30000 and result.truncated_at is None
    assert result.agent_message == 'Killed after 30000 milliseconds' and result.error == result.agent_message


@pytest.mark.parametrize('glue', ['', '\n', '\r\n'])
def test_truncated_output_is_never_complete_and_keeps_what_arrived(glue):
    stdout = b''.join(b'line %d\n' % n for n in range(500))
    whole = printed(stdout, b'', 0)
    for cut in (len(MARKERS[0]) + 1, 100, 1001, len(whole) - 3, len(whole) - 1):
        result = b.parse(whole[:cut] + glue + 'Truncated output at %d characters' % cut, MARKERS)
        assert not result.complete and result.rc is None and result.truncated_at == cut
        assert stdout.startswith(result.stdout_bytes or b'')
        assert result.agent_message == 'Truncated output at %d characters' % cut


def test_truncated_in_stderr_keeps_all_of_stdout():
    whole = printed(b'all of it\n', b'e' * 300, 1)
    result = b.parse(whole[:-60] + '\nTruncated output at %d characters\n' % (len(whole) - 60), MARKERS)
    assert not result.complete and result.stdout == 'all of it\n' and result.stderr.startswith('eee')


@pytest.mark.parametrize('raw,error', [
    ('', 'no framed output'),
    ('sh: 1: Syntax error\n', 'no framed output'),
    (MARKERS[0] + '\naGk=\n', 'ended early'),
    (MARKERS[0] + '\nnot base64!\n.\n%s 0\n' % MARKERS[1], 'unreadable'),
    ('Killed after 10000 milliseconds', 'Killed after 10000 milliseconds'),
    (None, 'no framed output'),
])
def test_what_is_not_a_whole_frame_says_why(raw, error):
    result = b.parse(raw, MARKERS)
    assert not result.complete and error in result.error


def test_markers_of_another_command_are_not_ours():
    other = b.new_markers()
    result = b.parse(printed(b'theirs', markers=other), MARKERS)
    assert not result.complete and result.stdout is None


# ---- sending exactly once ----------------------------------------------------------------------------

class Answer:
    def __init__(self, status_code, body=b'', content_type='application/json; charset=utf-8'):
        self.status_code = status_code
        self.content = body
        self.text = body.decode()
        self.headers = CaseInsensitiveDict({'Content-Type': content_type})
        self.reason = ''
        self.url = None


class FakeHttp:
    def __init__(self, *answers):
        self.answers = list(answers)
        self.sent = []
        self.headers = {}

    def request(self, method, url, **kwargs):
        self.sent.append(url.rsplit('/', 1)[-1])
        answer = self.answers.pop(0)
        if isinstance(answer, Exception):
            raise answer
        return answer


@pytest.fixture
def connect(state_dir, clock):
    def build(*answers):
        http = FakeHttp(*answers)
        client = _client.ScreenConnectClient({'server_url': 'https://sc.example', 'api_secret': 's3cret-rest',
                                              'retries': 3, 'timeout': 5}, state_dir=state_dir, backoff_base=0.01,
                                             sleep=clock.sleep, http=http)
        client.limiter = SharedRateLimiter(client.server_url, 6000, 100, state_dir=state_dir, clock=clock,
                                           sleep=clock.sleep)
        return client, http
    return build


@pytest.mark.parametrize('answer', [Answer(500, b'session manager fault'), Answer(502, b'Bad Gateway', 'text/plain'),
                                    Answer(504, b'Gateway Timeout', 'text/plain'),
                                    requests.exceptions.ReadTimeout('read timed out'),
                                    requests.exceptions.ConnectionError('Connection aborted: reset by peer')])
def test_an_ambiguous_answer_to_the_send_is_never_sent_again(connect, answer):
    client, http = connect(answer, Answer(200))
    backstage = b.Backstage(client, SESSION_ID)
    with pytest.raises(b.MayHaveRunError) as raised:
        backstage.send('#timeout=1000\nreboot')
    assert http.sent == ['SendCommandToSession']  # exactly one send
    error = raised.value
    assert error.may_have_run is True and isinstance(error, ScreenConnectError)
    assert error.message.startswith('the command may have been queued on session %s (and may run), so it was not '
                                    'sent again: SendCommandToSession' % SESSION_ID)
    assert backstage.requests == 1


@pytest.mark.parametrize('status', [429, 503])
def test_a_busy_server_did_not_take_the_send_and_it_is_retried(connect, status):
    client, http = connect(Answer(status, b'busy', 'text/plain'), Answer(200))
    backstage = b.Backstage(client, SESSION_ID)
    backstage.send('hostname')
    assert http.sent == ['SendCommandToSession', 'SendCommandToSession'] and backstage.requests == 2


def test_a_clear_refusal_is_no_may_have_run(connect):
    client, http = connect(Answer(413, b'Command too long: 70000 characters; this server takes at most 65536',
                                  'text/plain'))
    with pytest.raises(ScreenConnectError) as raised:
        b.Backstage(client, SESSION_ID).send('x' * 70000)
    assert not isinstance(raised.value, b.MayHaveRunError) and raised.value.may_have_run is False
    assert raised.value.status == 413 and http.sent == ['SendCommandToSession']


# ---- finding the result, polling, and what it costs -------------------------------------------------

def event(event_id, kind, data=''):
    return {'event_id': event_id, 'event_type': kind, 'data': data}


def test_the_result_is_the_first_ran_command_after_our_queued_command():
    text = 'framed text'
    events = [event('1', 44, text), event('2', 70, 'an older run'), event('3', 44, 'other'),
              event('4', 44, text), event('5', 70, 'other output'), event('6', 70, MARKERS[0] + '\nours')]
    assert b.find_output(events, text) == 'other output'  # by order alone
    assert b.find_output(events, text, begin_marker=MARKERS[0]) == MARKERS[0] + '\nours'
    assert b.find_output(events, text, after_event_id='5') is None  # queued before the marker: not ours
    assert b.find_output(events[:5], text, begin_marker=MARKERS[0]) is None
    assert b.find_output(events, 'never queued') is None
    # a server that stores the queued text otherwise: our random marker still finds our result
    assert b.find_output(events, 'stored otherwise', begin_marker=MARKERS[0]) == MARKERS[0] + '\nours'
    assert b.find_output(events, 'stored otherwise', after_event_id='6', begin_marker=MARKERS[0]) is None


def test_the_result_is_found_under_the_guest_connection_too():
    details = {'Session': {}, 'Events': [{'EventID': 'a', 'EventType': 44, 'Data': 'cmd', 'Time': '2026-01-01T00:00:01Z'}],
               'Connections': [{'ProcessType': 2, 'Events': [
                   {'EventID': 'b', 'EventType': 70, 'Data': 'out', 'Time': '2026-01-01T00:00:02Z'}]}]}
    assert b.find_output(details_events(details), 'cmd') == 'out'


def test_polling_starts_soon_and_backs_off_to_five_seconds():
    delays = b.poll_delays()
    first = [round(next(delays), 3) for _n in range(9)]
    assert first == [0.5, 0.75, 1.125, 1.688, 2.531, 3.797, 5.0, 5.0, 5.0]


class FakeServer:
    """A client as Backstage uses it: details, sends; the guest answers framed sh commands with the
    canned output, `delay` polls after the send."""

    def __init__(self, online=True, delay=1, output=(b'out\n', b'', 0)):
        self.online = online
        self.delay = delay
        self.output = output
        self.events = [event('e0', 10)]
        self.calls = []
        self.stats = {'requests': 0}
        self.due = []

    def get_session_details(self, session_id):
        self.stats['requests'] += 1
        self.calls.append('details')
        for pending in list(self.due):
            pending[0] -= 1
            if pending[0] < 0:
                self.events.append(event('e%d' % len(self.events), 70, pending[1]))
                self.due.remove(pending)
        return {'online': self.online, 'last_seen': '2026-01-02T03:04:05+00:00'}, list(self.events)

    def call(self, method, arguments):
        self.stats['requests'] += 1
        self.calls.append(method)
        text = arguments[1]
        self.events.append(event('e%d' % len(self.events), 44, text))
        halves = re.findall(r"^printf '%s%s[^']*' '([^']*)' '([^']*)'", text, re.M)
        markers = (''.join(halves[0]), ''.join(halves[1]))
        self.due.append([self.delay - 1, printed(*self.output, markers=markers)])


def test_a_command_costs_details_send_and_one_poll_then_send_and_poll(clock):
    server = FakeServer()
    backstage = b.Backstage(server, SESSION_ID, sleep=clock.sleep, clock=clock)
    result = backstage.run('echo out', timeout_ms=5000)
    assert (result.complete, result.rc, result.stdout, result.stderr) == (True, 0, 'out\n', '')
    assert server.calls == ['details', 'SendCommandToSession', 'details'] and backstage.requests == 3
    assert clock.slept == [0.5]
    server.output = (b'', b'nope\n', 2)
    second = backstage.run('false')  # the last answer's newest event is the marker: no prepare
    assert (second.rc, second.stderr) == (2, 'nope\n')
    assert server.calls[3:] == ['SendCommandToSession', 'details'] and backstage.requests == 5


def test_a_slow_result_is_polled_with_backoff(clock):
    server = FakeServer(delay=4)
    backstage = b.Backstage(server, SESSION_ID, sleep=clock.sleep, clock=clock)
    assert backstage.run('sleep 3; echo out').stdout == 'out\n'
    assert clock.slept == [0.5, 0.75, 1.125, 1.6875] and backstage.polls == 4


def test_an_offline_guest_fails_at_once_with_its_last_seen_and_nothing_sent(clock):
    server = FakeServer(online=False)
    with pytest.raises(b.GuestOfflineError) as raised:
        b.Backstage(server, SESSION_ID, sleep=clock.sleep, clock=clock).run('hostname')
    assert server.calls == ['details'] and raised.value.may_have_run is False
    assert raised.value.last_seen == '2026-01-02T03:04:05+00:00' and 'last seen 2026-01-02T03:04:05' in str(raised.value)
    queued = b.Backstage(server, SESSION_ID, sleep=clock.sleep, clock=clock)
    queued.prepare(allow_offline=True)
    assert queued.marker == 'e0'


def test_waiting_too_long_says_how_long_and_that_it_may_run(clock):
    server = FakeServer(delay=1000)
    backstage = b.Backstage(server, SESSION_ID, sleep=clock.sleep, clock=clock)
    with pytest.raises(b.OutputTimeoutError) as raised:
        backstage.run('sleep 600', wait_timeout=10)
    assert raised.value.may_have_run is True and raised.value.waited == pytest.approx(10)
    assert 'within 10.0 s' in str(raised.value)
    assert sum(clock.slept) == pytest.approx(10) and server.calls.count('SendCommandToSession') == 1


def test_a_guest_that_goes_offline_while_waiting_fails_saying_it_may_have_run(clock):
    server = FakeServer(delay=1000)
    backstage = b.Backstage(server, SESSION_ID, sleep=clock.sleep, clock=clock)
    backstage.prepare()
    server.online = False
    with pytest.raises(b.BackstageError) as raised:
        backstage.wait(backstage.marker, 60, 'x')
    assert raised.value.may_have_run is True and 'went offline' in str(raised.value)


def test_a_failed_read_while_waiting_says_the_command_was_queued(clock):
    class Failing(FakeServer):
        def get_session_details(self, session_id):
            raise ScreenConnectError('GetSessionDetailsBySessionID failed: HTTP 500', status=500)
    with pytest.raises(b.BackstageError) as raised:
        b.Backstage(Failing(), SESSION_ID, marker='e0', session={'online': True}, sleep=clock.sleep,
                    clock=clock).run('hostname')
    assert raised.value.may_have_run is True and 'was queued' in str(raised.value) and raised.value.status == 500
