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
  - With O(wait=true) it polls each session's details until the command's output arrives, and returns
    it as RV(results[].stdout). The output is the first RanCommand event after the queued command,
    read from the session's events and from those under its guest connection (servers put it in
    either place), matched by order, not by its text.
  - cmd (O(shell=cmd), or a Windows guest without O(shell)) starts its output with the echo of its
    prompt and the command, like C(C:\WINDOWS\system32>hostname). RV(results[].stdout) leaves that
    line out; RV(results[].raw_stdout) keeps the output as the server sent it.
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
      - Seconds the agent lets the command run before killing it (the C(#timeout=) directive). The agent's
        own default is 10 seconds.
    type: int
  max_output_length:
    description:
      - Characters of output the agent keeps (the C(#maxlength=) directive). The agent's default is 5000.
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
      - Seconds between polls of a session's details when O(wait=true). Each poll is one request
        against the rate limit.
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

- name: Show the outputs
  ansible.builtin.debug:
    msg: "{{ uptimes.results | items2dict(key_name='name', value_name='stdout') }}"
'''

RETURN = r'''
command:
  description: The command text as sent, with its directives.
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
      description: Whether the output arrived (only with O(wait=true)).
      type: bool
    stdout:
      description: The command's output, when it arrived; for cmd without the echoed C(prompt>command) first line.
      type: str
      returned: when O(wait=true) and the output arrived
      sample: WS-00004
    raw_stdout:
      description: The output as the server sent it (for cmd, with the echoed prompt and command).
      type: str
      returned: when O(wait=true) and the output arrived
      sample: "C:\\WINDOWS\\system32>hostname\nWS-00004"
    stdout_lines:
      description: RV(results[].stdout) split into lines.
      type: list
      elements: str
      returned: when O(wait=true) and the output arrived
    may_have_run:
      description: On failure, whether the server may have queued the command anyway.
      type: bool
      returned: on failure
    msg:
      description: What went wrong or what is pending for this session.
      type: str
      returned: on failure, or when the output did not arrive in time
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

from ansible_collections.msp.screenconnect.plugins.module_utils._client import ScreenConnectError
from ansible_collections.msp.screenconnect.plugins.module_utils._module import ScreenConnectModule
from ansible_collections.msp.screenconnect.plugins.module_utils._selectors import (
    SESSION_SELECTOR_OPTIONS, exit_with_results, send_to_sessions, targets_or_fail)
from ansible_collections.msp.screenconnect.plugins.module_utils._sessions import output_after_queueing, strip_cmd_echo


def command_text(params):
    """The command with the agent's directives on its first lines."""
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


def read_output(module, client, session_id, text):
    """The result keys for the command's output, or None while it has not arrived."""
    session, events = client.get_session_details(session_id)
    output = output_after_queueing(events, text)
    if output is None:
        return None
    guest = session.get('guest') or {}
    stdout = strip_cmd_echo(output) if runs_in_cmd(module.params['shell'], guest.get('os_family')) else output
    return {'completed': True, 'stdout': stdout, 'stdout_lines': stdout.splitlines(), 'raw_stdout': output}


def wait_for_outputs(module, client, results, text):
    pending = [result for result in results if result.get('sent') and result['online']]
    deadline = time.time() + module.params['wait_timeout']
    while pending:
        for result in list(pending):
            try:
                output = read_output(module, client, result['session_id'], text)
            except Exception as error:  # the command is queued: a bad answer ends the wait, never resends it
                reason = error.message if isinstance(error, ScreenConnectError) else 'unexpected %s' % type(error).__name__
                result.update(completed=False, msg='command queued; reading its output failed: %s' % reason)
                pending.remove(result)
                continue
            if output is not None:
                result.update(output)
                pending.remove(result)
        if not pending or time.time() >= deadline:
            break
        time.sleep(module.params['poll_interval'])
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
    text = command_text(params)
    results = send_to_sessions(module, client, sessions, 'SendCommandToSession', text)
    if params['wait'] and not module.check_mode:
        wait_for_outputs(module, client, results, text)
    if params['fail_on_offline']:
        for result in results:
            if not result['online'] and not result.get('failed'):
                result.update(failed=True, msg='guest offline: the command stays queued until it connects')
    exit_with_results(module, results, command=text)


if __name__ == '__main__':
    main()
