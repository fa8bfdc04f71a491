#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: msp.screenconnect contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r'''
module: session_info
short_description: Read ScreenConnect sessions
version_added: 0.1.0
description:
  - Reads sessions of a ScreenConnect server and returns them normalized, whatever spelling the
    server answers in.
  - Selectors combine with AND. With none, every session of O(session_type) is returned, in one request.
  - Never changes anything.
options:
  filter:
    description:
      - A raw session filter expression added with AND, like C(CustomProperty1 = 'Acme').
      - You write this text yourself; values from variables are safer in O(name), O(machine_name) and
        O(serial_number), which are quoted for you.
    type: str
  session_type:
    description:
      - Which kind of sessions to read.
    type: str
    choices: [access, support, meeting, all]
    default: access
  details:
    description:
      - Also return each session's events and the outputs of past commands (one request per session).
    type: bool
    default: false
  property_names:
    description:
      - Names for custom property slots; each appears under RV(sessions[].properties).
    type: dict
    default: {company: 1, site: 2, tag: 3}
extends_documentation_fragment:
  - msp.screenconnect.selectors
  - msp.screenconnect.connection
  - msp.screenconnect.attributes
  - msp.screenconnect.attributes.info_module
author:
  - MSP ScreenConnect maintainers (@msp-ansible)
'''

EXAMPLES = r'''
# API modules run on the controller: hosts: localhost, or delegate_to: localhost in a fleet play.
- name: Read every Windows server of Acme
  msp.screenconnect.session_info:
    server_url: https://acme.screenconnect.com
    api_secret: "{{ vault_screenconnect_secret }}"
    filter: "CustomProperty1 = 'Acme' AND GuestOperatingSystemName LIKE '%Server%'"
  delegate_to: localhost
  run_once: true
  register: acme_servers

- name: Look up this host's session by machine name, with its events
  msp.screenconnect.session_info:
    machine_name: "{{ inventory_hostname_short | upper }}"
    details: true
  delegate_to: localhost
  register: this_session

- name: Offline Access sessions
  ansible.builtin.debug:
    msg: "{{ acme_servers.sessions | rejectattr('online') | map(attribute='name') | list }}"
'''

RETURN = r'''
sessions:
  description: The sessions found, normalized.
  returned: always
  type: list
  elements: dict
  contains:
    session_id:
      description: Lower-case session GUID.
      type: str
      sample: 5523a541-96b3-4870-9a18-38b6734dbd78
    name:
      description: Session Name, empty when blank.
      type: str
      sample: WS-00004
    session_type:
      description: C(access), C(support) or C(meeting).
      type: str
    host:
      description: Technician the session is assigned to.
      type: str
    is_public:
      description: Whether the session is public.
      type: bool
    code:
      description: Join code.
      type: str
    is_ended:
      description: Whether the session is closed (agent removed).
      type: bool
    online:
      description: Whether the guest is connected now.
      type: bool
    last_seen:
      description: Last check-in of the agent, ISO 8601 UTC, null when never.
      type: str
      sample: "2026-11-19T03:51:52Z"
    custom_properties:
      description: The 8 custom property values in slot order.
      type: list
      elements: str
    properties:
      description: Custom property values by the names of O(property_names).
      type: dict
      sample: {company: Acme Corp, site: HQ, tag: "web,prod"}
    guest:
      description: What the agent reports about its machine.
      type: dict
      sample:
        machine_name: WS-00004
        os_name: Microsoft Windows 11 Pro
        os_version: "10.0.22631"
        os_family: windows
        processor_name: Intel(R) Xeon(R)
        processor_count: 4
        memory_total_mb: 16384
        memory_available_mb: 5120
        private_ip: 10.0.0.4
        serial_number: SN000004
        domain: WORKGROUP
        logged_on_user: user
        client_version: 25.4.16.9293
    events:
      description: The session's events, oldest first.
      returned: when O(details=true)
      type: list
      elements: dict
      sample: [{event_id: 0b1e..., event_type: 70, data: "WS-00004", time: "2026-11-19T03:51:52Z", host: ""}]
    command_outputs:
      description: Outputs of past commands (RanCommand events), oldest first.
      returned: when O(details=true)
      type: list
      elements: str
not_found:
  description: Requested session ids the server does not know.
  returned: always
  type: list
  elements: str
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

from ansible_collections.msp.screenconnect.plugins.module_utils._client import ScreenConnectError
from ansible_collections.msp.screenconnect.plugins.module_utils._module import PROPERTY_NAMES_OPTION, ScreenConnectModule
from ansible_collections.msp.screenconnect.plugins.module_utils._selectors import (
    SESSION_SELECTOR_OPTIONS, SESSION_TYPE_CHOICES, check_selectors, select_sessions)
from ansible_collections.msp.screenconnect.plugins.module_utils._sessions import RAN_COMMAND_EVENT


def main():
    argument_spec = dict(SESSION_SELECTOR_OPTIONS)
    argument_spec.update(PROPERTY_NAMES_OPTION)
    argument_spec.update(
        filter={'type': 'str'},
        session_type={'type': 'str', 'choices': SESSION_TYPE_CHOICES, 'default': 'access'},
        details={'type': 'bool', 'default': False},
    )
    module = ScreenConnectModule(argument_spec=argument_spec, supports_check_mode=True)
    problems = check_selectors(module.params)
    if problems:
        module.fail_json(msg='; '.join(problems))
    client = module.client()
    try:
        sessions, missing = select_sessions(client, module.params, module.params['session_type'],
                                            module.params['filter'])
        if module.params['details']:
            for session in sessions:
                _session, events = client.get_session_details(session['session_id'], module.params['property_names'])
                session['events'] = events
                session['command_outputs'] = [event['data'] for event in events if event['event_type'] == RAN_COMMAND_EVENT]
    except ScreenConnectError as error:
        module.fail_from_error(error, changed=False)
    module.exit_json(changed=False, sessions=sessions, not_found=missing)


if __name__ == '__main__':
    main()
