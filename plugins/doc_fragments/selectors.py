# -*- coding: utf-8 -*-
# Copyright: msp.screenconnect contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""How a task names the sessions it acts on (combined with AND)."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type


class ModuleDocFragment(object):

    DOCUMENTATION = r'''
options:
  session_id:
    description:
      - One session id or a list of them. Up to 20 ids are looked up one by one; more are picked from
        one request for the whole session type.
    type: list
    elements: str
  name:
    description:
      - The session Name (blank on many unattended agents; use O(machine_name) for those).
    type: str
  machine_name:
    description:
      - The guest machine name the agent reports.
    type: str
  serial_number:
    description:
      - The guest machine serial number.
    type: str
'''
