#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: msp.screenconnect contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r'''
module: session_command
short_description: Run a backstage command on ScreenConnect guests
version_added: 0.1.0
description:
  - Queues a command on the guest of each selected session (C(SendCommandToSession)), in one task
    for many sessions, through one connection and the shared rate limit.
  - With O(wait=true) the command runs inside a small wrapper for its shell that reports its exit code,
    its standard output and its standard error apart (between random markers, base64-encoded), and the
    module polls each session's details until the result arrives, and returns RV(results[].rc), RV(results[].stdout)
    and RV(results[].stderr), ready for C(failed_when) on C(result.results[0].rc != 0). The result is the first
    RanCommand event after the queued command, read from the session's events and from those under its
    guest connection (servers put it in either place). Polling starts half a second after the send and
    backs off to O(poll_interval).
  - The wrapper needs C(mktemp) and C(base64) on Linux and macOS guests, and C(certutil) (cmd) or
    PowerShell on Windows guests; all are there by default.
  - When the agent cuts a command short (past O(command_timeout), or output longer than
    O(max_output_length)) it says so in its output; the result then has RV(results[].completed=false),
    RV(results[].killed_after_ms) or RV(results[].truncated_at), a RV(results[].msg), no RV(results[].rc),
    and the output that arrived.
  - cmd (O(shell=cmd), or a Windows guest without O(shell)) echoes its prompt and the command before the
    output, like C(C:\WINDOWS\system32>hostname); with O(wait=true) RV(results[].stdout) never holds it.
  - An offline guest runs the command when it next connects; it is reported as queued, not as a
    failure, unless O(fail_on_offline=true).
  - A command is never sent twice. After HTTP 500, 502, 504 or a timeout the command may have been
    queued anyway, so it is not retried and the result says RV(results[].may_have_run).
  - Needs O(api=rest).
options:
  command:
    description:
      - The command text. Runs in cmd on Windows and sh on Linux and macOS unless O(shell) says otherwise.
    type: str
    required: true
  shell:
    description:
      - V(powershell) runs the command in PowerShell (the C(#!ps) directive). V(cmd) and V(sh) are the
        agent's defaults on Windows and on Linux/macOS and add no directive.
    type: str
    choices: [cmd, powershell, sh]
  command_timeout:
    description:
      - Seconds the agent lets the command run before killing it (the C(#timeout=) directive). Unset, the
        agent's own default, 10 seconds (with O(wait=true) it is sent as C(#timeout=10000)).
    type: int
  max_output_length:
    description:
      - Output the agent keeps (the C(#maxlength=) directive). Without O(wait=true), characters of the output.
      - With O(wait=true), bytes of standard output and standard error together; the module sets
        C(#maxlength=) to what they take once wrapped (base64 is 4 characters for 3 bytes). Unset, 5000 (the
        agent's own default), so C(#maxlength=) is about 7000.
    type: int
  wait:
    description:
      - Wait for the output of the command on online guests.
    type: bool
    default: false
  wait_timeout:
    description:
      - Seconds to wait for outputs, for all sessions together, when O(wait=true).
    type: int
    default: 120
  poll_interval:
    description:
      - The longest wait, in seconds, between two polls of a session's details when O(wait=true). The first
        poll is half a second after the send (or O(poll_interval) when shorter), the wait grows by half each
        time up to this. Each poll is one request against the rate limit.
    type: float
    default: 3
  fail_on_offline:
    description:
      - Fail for sessions whose guest is offline (the command stays queued on the server).
    type: bool
    default: false
extends_documentation_fragment:
  - msp.screenconnect.selectors
  - msp.screenconnect.connection
  - msp.screenconnect.attributes
  - msp.screenconnect.attributes.action
author:
  - MSP ScreenConnect maintainers (@msp-ansible)
'''

EXAMPLES = r'''
# API modules run on the controller: hosts: localhost, or delegate_to: localhost in a fleet play.
- name: Restart the print spooler on this host through its ScreenConnect agent
  msp.screenconnect.session_command:
    server_url: https://acme.screenconnect.com
    api_secret: "{{ vault_screenconnect_secret }}"
    machine_name: "{{ inventory_hostname_short | upper }}"
    shell: powershell
    command: Restart-Service -Name Spooler -PassThru | Select-Object Status
    command_timeout: 60
    wait: true
  delegate_to: localhost
  register: spooler

- name: Ask every Acme session for its uptime, in one task
  msp.screenconnect.session_command:
    session_id: "{{ acme.sessions | map(attribute='session_id') | list }}"
    command: uptime
    wait: true
    wait_timeout: 300
  delegate_to: localhost
  run_once: true
  register: uptimes

- name: Fail when the command fails on the guest, showing its stderr
  msp.screenconnect.session_command:
    session_id: "{{ screenconnect_session_id }}"
    command: systemctl is-active nginx
    wait: true
  delegate_to: localhost
  register: nginx
  failed_when: nginx.results[0].rc != 0

- name: Show the outputs
  ansible.builtin.debug:
    msg: "{{ uptimes.results | items2dict(key_name='name', value_name='stdout') }}"
'''

RETURN = r'''
command:
  description:
    - The command text as sent, with its directives. With O(wait=true), the command inside the wrapper of the
      first session's shell (RV(results[].shell)).
  returned: always
  type: str
  sample: "#!ps\n#timeout=60000\nGet-Service Spooler"
results:
  description: One entry per session.
  returned: always
  type: list
  elements: dict
  contains:
    session_id:
      description: The session id.
      type: str
    name:
      description: The session Name.
      type: str
    machine_name:
      description: The guest machine name.
      type: str
    online:
      description: Whether the guest was connected when the command was queued.
      type: bool
    sent:
      description: Whether the server accepted the command (false in check mode).
      type: bool
    completed:
      description:
        - Whether the whole result arrived (only with O(wait=true)). False while it has not, when the agent
          cut the command short, or when the output is not the wrapper's (RV(results[].msg) says which).
      type: bool
    shell:
      description: The shell the command ran in, C(sh), C(cmd) or C(powershell) (only with O(wait=true)).
      type: str
      returned: when O(wait=true)
      sample: sh
    rc:
      description: The command's exit code; null when it did not run to its end (killed, output cut).
      type: int
      returned: when O(wait=true) and the output arrived
      sample: 0
    stdout:
      description: The command's standard output (UTF-8, undecodable bytes replaced); when cut short, what arrived.
      type: str
      returned: when O(wait=true) and the output arrived
      sample: WS-00004
    stderr:
      description: The command's standard error; when cut short, what arrived (may be null).
      type: str
      returned: when O(wait=true) and the output arrived
      sample: ""
    raw_stdout:
      description: The output as the server sent it (the wrapper's markers and base64; for cmd, the echo first).
      type: str
      returned: when O(wait=true) and the output arrived
    stdout_lines:
      description: RV(results[].stdout) split into lines.
      type: list
      elements: str
      returned: when O(wait=true) and the output arrived
    stderr_lines:
      description: RV(results[].stderr) split into lines.
      type: list
      elements: str
      returned: when O(wait=true) and the output arrived
    killed_after_ms:
      description: The agent killed the command after this many milliseconds (O(command_timeout)).
      type: int
      returned: when the agent killed the command
      sample: 10000
    truncated_at:
      description: The agent cut the output at this many characters (O(max_output_length)).
      type: int
      returned: when the agent cut the output
      sample: 7128
    may_have_run:
      description: On failure, whether the server may have queued the command anyway.
      type: bool
      returned: on failure
    msg:
      description: What went wrong or what is pending for this session.
      type: str
      returned: on failure, or when the output did not arrive in time or was cut short
api_stats:
  description: What the task cost against the server.
  returned: when the module reached the point of talking to the server
  type: dict
  contains:
    requests:
      description: HTTP requests sent, retries included.
      type: int
    retries:
      description: Requests sent again after a 429, 503 or a failed read.
      type: int
    rate_limited:
      description: HTTP 429 answers received.
      type: int
    waited:
      description: Seconds spent waiting for the shared rate limit and backoff.
      type: float
'''

import time

from ansible_collections.msp.screenconnect.plugins.module_utils._backstage import (
    Backstage, frame, framed_length, new_markers, parse, poll_delays)
from ansible_collections.msp.screenconnect.plugins.module_utils._client import ScreenConnectError
from ansible_collections.msp.screenconnect.plugins.module_utils._module import ScreenConnectModule
from ansible_collections.msp.screenconnect.plugins.module_utils._selectors import (
    SESSION_SELECTOR_OPTIONS, exit_with_results, send_to_sessions, session_result, targets_or_fail, write_failure)

# The first poll this soon after the send (or poll_interval when shorter).
FIRST_POLL = 0.5


def command_text(params):
    """The command with the agent's directives on its first lines (without wait: no wrapper)."""
    lines = []
    if params['shell'] == 'powershell':
        lines.append('#!ps')
    if params['command_timeout'] is not None:
        lines.append('#timeout=%d' % (params['command_timeout'] * 1000))
    if params['max_output_length'] is not None:
        lines.append('#maxlength=%d' % params['max_output_length'])
    lines.append(params['command'])
    return '\n'.join(lines)


def runs_in_cmd(shell, os_family):
    """cmd runs what is not PowerShell on Windows: its output starts with the prompt and command."""
    return shell == 'cmd' or (shell is None and os_family == 'windows')


def shell_of(shell, session):
    """The shell a command runs in on this session: the option, else the agent's default for its OS."""
    if shell == 'powershell':
        return 'powershell'
    return 'cmd' if runs_in_cmd(shell, (session.get('guest') or {}).get('os_family')) else 'sh'


def framed_texts(params, sessions, markers):
    """{shell: the wrapped command} for the shells the sessions need: one text per shell."""
    timeout_ms = None if params['command_timeout'] is None else params['command_timeout'] * 1000
    max_length = framed_length(5000 if params['max_output_length'] is None else params['max_output_length'])
    texts = {}
    for session in sessions:
        shell = shell_of(params['shell'], session)
        if shell not in texts:
            texts[shell] = frame(params['command'], shell, markers, timeout_ms, max_length)
    return texts


def send_framed(module, client, sessions, texts):
    """Send each session the text of its shell, once; one result per session, as send_to_sessions."""
    results = []
    for session in sessions:
        shell = shell_of(module.params['shell'], session)
        if module.check_mode:
            results.append(session_result(session, changed=True, sent=False, shell=shell))
            continue
        try:
            Backstage(client, session['session_id'], session=session).send(texts[shell])
            results.append(session_result(session, changed=True, sent=True, shell=shell))
        except Exception as error:  # any failure of one session's write, so it never stops the others
            results.append(session_result(session, sent=False, failed=True, shell=shell, **write_failure(error)))
    return results


def output_keys(raw, markers):
    """The result keys for a command's output (raw: the RanCommand text)."""
    parsed = parse(raw, markers)
    keys = {'completed': parsed.complete, 'rc': parsed.rc, 'stdout': parsed.stdout, 'stderr': parsed.stderr,
            'raw_stdout': raw, 'stdout_lines': (parsed.stdout or '').splitlines(),
            'stderr_lines': (parsed.stderr or '').splitlines()}
    if parsed.killed_after_ms is not None:
        keys.update(killed_after_ms=parsed.killed_after_ms)
    if parsed.truncated_at is not None:
        keys.update(truncated_at=parsed.truncated_at)
    if parsed.killed_after_ms is not None:
        keys['msg'] = ('the agent killed the command after %d ms (raise command_timeout): it did not finish and gave '
                       'no exit code' % parsed.killed_after_ms)
    elif parsed.truncated_at is not None:
        keys['msg'] = ('the agent cut the output at %d characters (raise max_output_length); stdout and stderr are '
                       'what arrived' % parsed.truncated_at)
    elif not parsed.complete:
        keys['msg'] = 'the output is not the whole wrapped result: %s' % parsed.error
    return keys


def wait_for_outputs(module, client, results, texts, markers, clock=time.monotonic, sleep=time.sleep):
    """Poll the sessions that took the command until their results arrive or wait_timeout passes.
    A failed read ends that session's wait: the command is queued and is never sent again."""
    pending = [result for result in results if result.get('sent') and result['online']]
    readers = dict((result['session_id'], Backstage(client, result['session_id'])) for result in pending)
    deadline = clock() + module.params['wait_timeout']
    delays = poll_delays(min(FIRST_POLL, module.params['poll_interval']), most=module.params['poll_interval'])
    while pending:
        sleep(max(0.0, min(next(delays), deadline - clock())))
        for result in list(pending):
            try:
                raw = readers[result['session_id']].check(texts[result['shell']], begin_marker=markers[0])
            except Exception as error:  # the command is queued: a bad answer ends the wait, never resends it
                reason = error.message if isinstance(error, ScreenConnectError) else 'unexpected %s' % type(error).__name__
                result.update(completed=False, msg='command queued; reading its output failed: %s' % reason)
                pending.remove(result)
                continue
            if raw is not None:
                result.update(output_keys(raw, markers))
                pending.remove(result)
        if clock() >= deadline:
            break
    for result in pending:
        result.update(completed=False, msg='command queued; no output within %ss' % module.params['wait_timeout'])


def main():
    argument_spec = dict(SESSION_SELECTOR_OPTIONS)
    argument_spec.update(
        command={'type': 'str', 'required': True},
        shell={'type': 'str', 'choices': ['cmd', 'powershell', 'sh']},
        command_timeout={'type': 'int'},
        max_output_length={'type': 'int'},
        wait={'type': 'bool', 'default': False},
        wait_timeout={'type': 'int', 'default': 120},
        poll_interval={'type': 'float', 'default': 3},
        fail_on_offline={'type': 'bool', 'default': False},
    )
    module = ScreenConnectModule(argument_spec=argument_spec, supports_check_mode=True,
                                 required_one_of=[list(SESSION_SELECTOR_OPTIONS)])
    params = module.params
    for option, low in (('command_timeout', 1), ('max_output_length', 1), ('wait_timeout', 0)):
        if params[option] is not None and params[option] < low:
            module.fail_json(msg='%s must be at least %d, got %d' % (option, low, params[option]))
    if params['poll_interval'] <= 0:
        module.fail_json(msg='poll_interval must be above 0, got %s' % params['poll_interval'])
    if not params['command'].strip():
        module.fail_json(msg='command is empty')
    client = module.client()
    if client.api != 'rest':
        module.fail_json(msg="session_command needs api: rest (the RESTful API Manager's SendCommandToSession)")
    sessions = targets_or_fail(module, client)
    if params['wait']:
        markers = new_markers()
        texts = framed_texts(params, sessions, markers)
        results = send_framed(module, client, sessions, texts)
        text = texts[results[0]['shell']] if results else command_text(params)
        if not module.check_mode:
            wait_for_outputs(module, client, results, texts, markers)
    else:
        text = command_text(params)
        results = send_to_sessions(module, client, sessions, 'SendCommandToSession', text)
    if params['fail_on_offline']:
        for result in results:
            if not result['online'] and not result.get('failed'):
                result.update(failed=True, msg='guest offline: the command stays queued until it connects')
    exit_with_results(module, results, command=text)


if __name__ == '__main__':
    main()
