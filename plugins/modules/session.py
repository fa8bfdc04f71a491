#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: msp.screenconnect contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r'''
module: session
short_description: Create a ScreenConnect session or bring its name and properties to the wanted values
version_added: 0.1.0
description:
  - Finds a session by O(session_id), or by O(name) and O(session_type).
  - When none exists (only possible when looking up by name) it creates one (C(CreateSession)).
  - When it exists, it renames it to O(new_name) and sets its custom properties, only where they differ.
  - Access sessions normally come from the agent installer (see M(msp.screenconnect.installer_url)
    and the C(msp.screenconnect.agent) role); creating one here makes a session without an agent.
options:
  state:
    description:
      - Only V(present) is supported; the API has no method to end a session.
    type: str
    choices: [present]
    default: present
  session_id:
    description:
      - Id of an existing session to update.
    type: str
  name:
    description:
      - Session Name to find or create. Several sessions of one type with this name is an error; use
        O(session_id) then.
    type: str
  new_name:
    description:
      - Rename the session to this.
    type: str
  session_type:
    description:
      - Type of the session to find or create.
    type: str
    choices: [support, meeting, access]
    default: support
  is_public:
    description:
      - For a new session, whether it is public.
    type: bool
    default: false
  code:
    description:
      - For a new session, its join code.
    type: str
    default: ""
  properties:
    description:
      - Custom property values by name (see O(property_names)).
    type: dict
  custom_properties:
    description:
      - Custom property values by slot (1-8), or a list of up to 8 values from slot 1.
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
extends_documentation_fragment:
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
# API modules run on the controller: hosts: localhost, or delegate_to: localhost.
- name: A support session for a customer call, tagged with its company
  msp.screenconnect.session:
    server_url: https://acme.screenconnect.com
    api_secret: "{{ vault_screenconnect_secret }}"
    name: "Ticket 48213 - printer"
    session_type: support
    properties:
      company: Acme Corp
  delegate_to: localhost
  register: support_session

- name: Rename an Access session whose Name was left blank by the installer
  msp.screenconnect.session:
    session_id: 5523a541-96b3-4870-9a18-38b6734dbd78
    new_name: WS-00004
    properties: {site: HQ}
  delegate_to: localhost
'''

RETURN = r'''
session:
  description: The session after the change (the wanted values in check mode). Same keys as
    RV(msp.screenconnect.session_info#module:sessions).
  returned: when found or created (not for a create in check mode)
  type: dict
created:
  description: Whether the session was created.
  returned: always
  type: bool
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
from ansible_collections.msp.screenconnect.plugins.module_utils._selectors import unique_sessions, write_failure
from ansible_collections.msp.screenconnect.plugins.module_utils._sessions import (
    condition, is_session_id, validate_property_names, wanted_custom_properties)


def check_input(params):
    problems = validate_property_names(params['property_names'])
    if params['session_id'] is None and params['name'] is None:
        problems.append('one of session_id, name is required (a null value does not count)')
    if params['session_id'] is not None and not is_session_id(params['session_id']):
        problems.append('session_id: %r is not a session id (a GUID)' % params['session_id'])
    if params['name'] is not None and not params['name'].strip():
        # A blank name would find (and change) whichever session has no name.
        problems.append('name: %r is blank; give the session name, or use session_id' % params['name'])
    if not problems:
        try:
            wanted_custom_properties([], params['property_names'], params['properties'], params['custom_properties'])
        except ValueError as error:
            problems.append(str(error))
    return problems


def find(module, client):
    params = module.params
    if params['session_id']:
        session = client.get_session(params['session_id'], params['property_names'])
        if session is None:
            module.fail_json(msg='session_id: no session %s on %s' % (params['session_id'], client.server_url))
        return session
    found = client.find_sessions(condition('Name', params['name']), params['session_type'], params['property_names'],
                                 by_name=params['name'])
    found = unique_sessions(client, [session for session in found if not session['is_ended']])
    if len(found) > 1:
        module.fail_json(msg='name: %d %s sessions are named %r; pick one with session_id (%s)' % (
            len(found), params['session_type'], params['name'], ', '.join(s['session_id'] for s in found)))
    return found[0] if found else None


def fail_after_write(module, error, written=False):
    """Fail for a write that raised `error`: changed when it may have been carried out, or when an
    earlier write of this task was (`written`), so a retry does not look like "nothing happened"."""
    failure = write_failure(error)
    details = error.to_result() if isinstance(error, ScreenConnectError) else {}
    details.update(failure, changed=failure['changed'] or written)
    module.fail_json(**details)


def update(module, client, session, new_name, new_values):
    """Properties, then the name, as separate writes (the RESTful API has one method for each), so a
    failure of the second still reports the first as done."""
    written = False
    try:
        if new_values is not None:
            client.update_session(session, custom_properties=new_values)
            written = True
            session = dict(session, custom_properties=new_values)
        if new_name is not None:
            client.update_session(session, name=new_name)
    except Exception as error:  # any failure once a write may have gone out
        fail_after_write(module, error, written)


def main():
    argument_spec = dict(PROPERTY_NAMES_OPTION)
    argument_spec.update(
        state={'type': 'str', 'choices': ['present'], 'default': 'present'},
        session_id={'type': 'str'},
        name={'type': 'str'},
        new_name={'type': 'str'},
        session_type={'type': 'str', 'choices': ['support', 'meeting', 'access'], 'default': 'support'},
        is_public={'type': 'bool', 'default': False},
        code={'type': 'str', 'default': ''},
        properties={'type': 'dict'},
        custom_properties={'type': 'raw'},
        replace={'type': 'bool', 'default': False},
    )
    module = ScreenConnectModule(argument_spec=argument_spec, supports_check_mode=True,
                                 required_one_of=[['session_id', 'name']],
                                 mutually_exclusive=[['session_id', 'name']])
    params = module.params
    problems = check_input(params)
    if problems:
        module.fail_json(msg='; '.join(problems))
    client = module.client()
    try:
        session = find(module, client)
        if session is None:
            values = wanted_custom_properties([], params['property_names'], params['properties'],
                                              params['custom_properties'])
            created = None
            if not module.check_mode:
                try:
                    created = client.create_session(params['session_type'], params['new_name'] or params['name'],
                                                    params['is_public'], params['code'], values,
                                                    params['property_names'])
                except Exception as error:  # any failure once CreateSession may have gone out
                    fail_after_write(module, error)
            module.exit_json(changed=True, created=True, session=created,
                             diff={'before': {}, 'after': {'name': params['new_name'] or params['name'],
                                                           'custom_properties': values}})
        values = session['custom_properties']
        if params['properties'] or params['custom_properties'] is not None or params['replace']:
            values = wanted_custom_properties(values, params['property_names'], params['properties'],
                                              params['custom_properties'], params['replace'])
        new_name = params['new_name'] if params['new_name'] is not None and params['new_name'] != session['name'] else None
        new_values = values if values != session['custom_properties'] else None
        changed = new_name is not None or new_values is not None
        after = dict(session, name=new_name if new_name is not None else session['name'], custom_properties=values,
                     properties=dict((n, values[slot - 1]) for n, slot in params['property_names'].items()))
        if changed and not module.check_mode:
            update(module, client, session, new_name, new_values)
    except ScreenConnectError as error:
        module.fail_from_error(error, changed=False)
    module.exit_json(changed=changed, created=False, session=after,
                     diff={'before': {'name': session['name'], 'custom_properties': session['custom_properties']},
                           'after': {'name': after['name'], 'custom_properties': values}})


if __name__ == '__main__':
    main()
