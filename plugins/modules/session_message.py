#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: msp.screenconnect contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
module: session_message
short_description: Send a chat message to ScreenConnect sessions
version_added: 0.1.0
description:
  - Sends a chat message to the guest of each selected session.
  - Acts on every session named by the selectors (combined with AND) in one task, through one
    connection and the shared rate limit.
  - Uses the RESTful API Manager method C(SendMessageToSession), so it needs O(api=rest).
  - A send that fails with HTTP 500, 502, 504 or a timeout is not repeated, because the server may
    have carried it out; that session's result then says RV(results[].may_have_run).
  - It sends C(SendMessageToSession) the two arguments C([sessionID, message]). One public client
    sends three, C([sessionID, host, message]); whether a server wants that form is not settled. If
    yours answers HTTP 500 to the two-argument form, send the other through M(msp.screenconnect.api_call)
    (see its examples).
options:
  msg:
    description:
      - The message text shown to the guest.
      - Named C(msg), not C(message), because ansible-test reserves the option name C(message).
    type: str
    required: true
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
author:
  - MSP ScreenConnect maintainers (@msp-ansible)
"""

EXAMPLES = r"""
# API modules run on the controller: hosts: localhost, or delegate_to: localhost in a fleet play.
- name: Warn the users of Acme's HQ before the patch window
  msp.screenconnect.session_message:
    server_url: https://acme.screenconnect.com
    api_secret: "{{ vault_screenconnect_secret }}"
    machine_name: "{{ inventory_hostname_short | upper }}"
    msg: "Your computer restarts for updates at 22:00. Save your work."
  delegate_to: localhost

- name: Message two sessions by id
  msp.screenconnect.session_message:
    session_id:
      - 5523a541-96b3-4870-9a18-38b6734dbd78
      - 0f5b4d1e-7a61-4c9b-9d53-2c1f0e9a7b11
    msg: Maintenance is done, thank you.
  delegate_to: localhost
"""

RETURN = r"""
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
      description: Whether the guest was connected when the task ran.
      type: bool
    sent:
      description: Whether the server accepted it (false in check mode).
      type: bool
    may_have_run:
      description: On failure, whether the server may have received it anyway.
      type: bool
      returned: on failure
    msg:
      description: What went wrong for this session.
      type: str
      returned: on failure
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
"""

from ansible_collections.msp.screenconnect.plugins.module_utils._selectors import run_send_module


def main():
    run_send_module('msg', 'SendMessageToSession', 'session_message')


if __name__ == '__main__':
    main()
