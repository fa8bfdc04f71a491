#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: msp.screenconnect contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r'''
module: api_call
short_description: Call any RESTful API Manager method of a ScreenConnect server
version_added: 0.1.0
description:
  - The escape hatch for methods no other module covers. Calls O(method) with positional O(arguments)
    through the shared client (authentication, rate limit, retries, clear errors).
  - Reports changed unless O(method) starts with C(Get). In check mode only C(Get) methods are called.
  - Methods not starting with C(Get) are never sent twice after HTTP 500, 502, 504 or a timeout.
options:
  method:
    description:
      - The method name, like C(GetSessionsByName) or C(SendToolboxItemToSession).
    type: str
    required: true
  arguments:
    description:
      - The positional arguments, in the method's order.
    type: list
    elements: raw
    default: []
extends_documentation_fragment:
  - msp.screenconnect.connection
  - msp.screenconnect.attributes
  - msp.screenconnect.attributes.action
author:
  - MSP ScreenConnect maintainers (@msp-ansible)
'''

EXAMPLES = r'''
# API modules run on the controller: hosts: localhost, or delegate_to: localhost.
- name: Raw read of the sessions named WS-00004
  msp.screenconnect.api_call:
    server_url: https://acme.screenconnect.com
    api_secret: "{{ vault_screenconnect_secret }}"
    method: GetSessionsByName
    arguments: [WS-00004]
  delegate_to: localhost
  register: raw

- name: Push a toolbox item to a session
  msp.screenconnect.api_call:
    method: SendToolboxItemToSession
    arguments: [5523a541-96b3-4870-9a18-38b6734dbd78, Autoruns]
  delegate_to: localhost

- name: A chat message in the three-argument form (session, host, message) some servers may want
  msp.screenconnect.api_call:
    method: SendMessageToSession
    arguments: [5523a541-96b3-4870-9a18-38b6734dbd78, helpdesk, "Rebooting at 22:00"]
  delegate_to: localhost
'''

RETURN = r'''
result:
  description: The server's answer, parsed; null for methods that answer nothing.
  returned: success, except for methods skipped in check mode
  type: raw
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

import re

from ansible_collections.msp.screenconnect.plugins.module_utils._client import ScreenConnectError
from ansible_collections.msp.screenconnect.plugins.module_utils._module import ScreenConnectModule
from ansible_collections.msp.screenconnect.plugins.module_utils._selectors import write_failure


def main():
    module = ScreenConnectModule(
        argument_spec={'method': {'type': 'str', 'required': True},
                       'arguments': {'type': 'list', 'elements': 'raw', 'default': []}},
        supports_check_mode=True)
    method = module.params['method']
    if not re.match(r'^[A-Za-z][A-Za-z0-9]*$', method):
        module.fail_json(msg='method: %r is not a method name (letters and digits, like GetSessionsByName)' % method)
    is_read = method.startswith('Get')
    client = module.client()
    if client.api != 'rest':
        module.fail_json(msg='api_call calls RESTful API Manager methods: set api: rest')
    if module.check_mode and not is_read:
        module.exit_json(changed=True, skipped_in_check_mode=True)
    try:
        result = client.call(method, module.params['arguments'])
    except ScreenConnectError as error:
        module.fail_from_error(error, changed=error.may_have_run)
    except Exception as error:  # anything else came after the request went out
        if is_read:
            module.fail_json(msg='%s failed: unexpected %s' % (method, type(error).__name__), changed=False)
        module.fail_json(**write_failure(error))
    module.exit_json(changed=not is_read, result=result)


if __name__ == '__main__':
    main()
