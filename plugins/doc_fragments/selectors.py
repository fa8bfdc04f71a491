# -*- coding: utf-8 -*-
# Copyright: msp.screenconnect contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""How a task names the sessions it acts on (combined with AND; an empty list selects nothing)."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type


class ModuleDocFragment(object):

    # Only options here: a fragment's description would be merged into (and reorder) the module's.
    DOCUMENTATION = r'''
options:
  session_id:
    description:
      - One session id or a list of them. Up to 20 ids are looked up one by one; more are picked from
        one request for the whole session type.
      - The selectors (this one, O(name), O(machine_name), O(serial_number)) combine with AND. A null
        value counts as not given.
      - 'An empty list selects no session, whatever the other selectors say: a module that acts then
        changes nothing, returns no results, and warns. It never means every session, so a
        lookup that found nothing, C(session_id: "{{ found.sessions | map(attribute=''session_id'') | list }}"),
        sends nothing.'
      - To act on every session, name them all explicitly, for example read them with
        M(msp.screenconnect.session_info) and a filter such as C(SessionType = 'Access'), and pass their ids.
      - A session the server lists twice (its id in two spellings) is acted on once.
    type: list
    elements: str
  name:
    description:
      - The session Name (blank on many unattended agents; use O(machine_name) for those).
      - An empty or blank value is refused before any request (on the server it would match every
        session without a Name).
    type: str
  machine_name:
    description:
      - The guest machine name the agent reports.
      - An empty or blank value is refused before any request.
    type: str
  serial_number:
    description:
      - The guest machine serial number.
      - An empty or blank value is refused before any request.
    type: str
'''
