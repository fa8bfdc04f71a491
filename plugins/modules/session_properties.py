#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: msp.screenconnect contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r'''
module: session_properties
short_description: Set the Company, Site, Tag and other custom properties of ScreenConnect sessions
version_added: 0.1.0
description:
  - Sets custom property values of each selected session, by name (O(properties), through
    O(property_names)) and/or by slot (O(custom_properties)).
  - The server replaces all 8 values at once, so the module reads them, merges, and writes the whole
    list only when a value differs. Slots not named keep their values unless O(replace=true).
  - Diff mode shows each session's values before and after; check mode never writes.
options:
  properties:
    description:
      - 'Values by property name, like C({company: Acme Corp, site: HQ, tag: "web,prod"}).'
      - Names come from O(property_names).
    type: dict
  custom_properties:
    description:
      - 'Values by slot number (1-8), like C({4: Rack 12}), or a list of up to 8 values from slot 1.'
    type: raw
  replace:
    description:
      - Empty the slots that neither O(properties) nor O(custom_properties) name.
    type: bool
    default: false
  property_names:
    description:
      - Maps property names to slots.
    type: dict
    default: {company: 1, site: 2, tag: 3}
  session_type:
    description:
      - Which kind of session the selectors look for.
    type: str
    choices: [access, support, meeting, all]
    default: access
extends_documentation_fragment:
  - msp.screenconnect.selectors
  - msp.screenconnect.connection
  - msp.screenconnect.attributes
  - msp.screenconnect.attributes.action
attributes:
  diff_mode:
    support: full
author:
  - MSP ScreenConnect maintainers (@msp-ansible)
'''

EXAMPLES = r'''
# API modules run on the controller: hosts: localhost, or delegate_to: localhost in a fleet play.
- name: Put this host under the right Company, Site and Tag
  msp.screenconnect.session_properties:
    server_url: https://acme.screenconnect.com
    api_secret: "{{ vault_screenconnect_secret }}"
    machine_name: "{{ inventory_hostname_short | upper }}"
    properties:
      company: "O'Reilly & Sons"
      site: Branch 1
      tag: web,prod
  delegate_to: localhost

- name: Set slot 4 (Rack) on two sessions and leave the others alone
  msp.screenconnect.session_properties:
    session_id:
      - 5523a541-96b3-4870-9a18-38b6734dbd78
      - 0f5b4d1e-7a61-4c9b-9d53-2c1f0e9a7b11
    custom_properties:
      4: Rack 12
  delegate_to: localhost

- name: Custom slot names of this server
  msp.screenconnect.session_properties:
    name: SRV-00012
    property_names: {customer: 1, location: 2, role: 5}
    properties: {role: database}
  delegate_to: localhost
'''

RETURN = r'''
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
    changed:
      description: Whether a value differed (and was written, unless in check mode).
      type: bool
    before:
      description: The 8 values before.
      type: list
      elements: str
    after:
      description: The 8 values after.
      type: list
      elements: str
    properties:
      description: The named values after.
      type: dict
      sample: {company: Acme Corp, site: HQ, tag: "web,prod"}
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

from ansible_collections.msp.screenconnect.plugins.module_utils._module import PROPERTY_NAMES_OPTION, ScreenConnectModule
from ansible_collections.msp.screenconnect.plugins.module_utils._selectors import (
    SESSION_SELECTOR_OPTIONS, SESSION_TYPE_CHOICES, check_selectors, exit_with_results, session_result, targets_or_fail,
    write_failure)
from ansible_collections.msp.screenconnect.plugins.module_utils._sessions import wanted_custom_properties


def main():
    argument_spec = dict(SESSION_SELECTOR_OPTIONS)
    argument_spec.update(PROPERTY_NAMES_OPTION)
    argument_spec.update(
        properties={'type': 'dict'},
        custom_properties={'type': 'raw'},
        replace={'type': 'bool', 'default': False},
        session_type={'type': 'str', 'choices': SESSION_TYPE_CHOICES, 'default': 'access'},
    )
    module = ScreenConnectModule(argument_spec=argument_spec, supports_check_mode=True,
                                 required_one_of=[list(SESSION_SELECTOR_OPTIONS),
                                                  ['properties', 'custom_properties']])
    params = module.params
    property_names = params['property_names']
    problems = check_selectors(params, required=True)
    if not problems:
        try:  # checked on an empty session, so bad input fails before any request
            wanted_custom_properties([], property_names, params['properties'], params['custom_properties'])
        except ValueError as error:
            problems.append(str(error))
    if problems:
        module.fail_json(msg='; '.join(problems))

    client = module.client()
    sessions = targets_or_fail(module, client, params['session_type'])
    results, before_diff, after_diff = [], {}, {}
    for session in sessions:
        before = session['custom_properties']
        after = wanted_custom_properties(before, property_names, params['properties'], params['custom_properties'],
                                         params['replace'])
        named = dict((name, after[slot - 1]) for name, slot in property_names.items())
        result = session_result(session, changed=after != before, before=before, after=after, properties=named)
        if result['changed']:
            label = session['name'] or session['guest']['machine_name'] or session['session_id']
            before_diff[label] = dict((name, before[slot - 1]) for name, slot in property_names.items())
            before_diff[label]['custom_properties'] = before
            after_diff[label] = dict(named, custom_properties=after)
            if not module.check_mode:
                try:
                    client.update_session(session, custom_properties=after)
                except Exception as error:  # any failure of one session's write, so it never stops the others
                    result.update(failed=True, **write_failure(error))
        results.append(result)
    exit_with_results(module, results, diff={'before': before_diff, 'after': after_diff})


if __name__ == '__main__':
    main()
