#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: msp.screenconnect contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
module: session_note
short_description: Add a note to ScreenConnect sessions
version_added: 0.1.0
description:
  - Adds a note to each selected session, visible to technicians in the session history.
  - Acts on every session named by the selectors (combined with AND) in one task, through one
    connection and the shared rate limit.
  - Uses the RESTful API Manager method C(AddNoteToSession), so it needs O(api=rest).
  - A send that fails with HTTP 500, 502, 504 or a timeout is not repeated, because the server may
    have carried it out; that session's result then says RV(results[].may_have_run).
options:
  note:
    description:
      - The note text.
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
- name: Record the patch run on every session this play touched
  msp.screenconnect.session_note:
    server_url: https://acme.screenconnect.com
    api_secret: "{{ vault_screenconnect_secret }}"
    machine_name: "{{ inventory_hostname_short | upper }}"
    note: "Patched by Ansible job {{ tower_job_id | default('manual') }}"
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
    run_send_module('note', 'AddNoteToSession', 'session_note')


if __name__ == '__main__':
    main()
