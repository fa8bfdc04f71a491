# -*- coding: utf-8 -*-
# Copyright: msp.screenconnect contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Module attributes: the action group every module belongs to, and check/diff mode support."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type


class ModuleDocFragment(object):

    # Every module: member of the action group, talks to the API from where it runs.
    DOCUMENTATION = r'''
attributes:
  action_group:
    description: Use C(group/msp.screenconnect.screenconnect) in C(module_defaults) to set the connection once.
    support: full
    membership:
      - msp.screenconnect.screenconnect
'''

    # Read-only modules.
    INFO_MODULE = r'''
attributes:
  check_mode:
    support: full
    details: This module never changes anything.
    description: Can run in check_mode and return changed status prediction without modifying target.
  diff_mode:
    support: N/A
    details: This module never changes anything.
    description: Will return details on what has changed (or possibly needs changing in check_mode), when in diff mode.
'''

    # Modules that change something on the server.
    ACTION = r'''
attributes:
  check_mode:
    support: full
    details: In check mode nothing is sent; the result says what would have been.
    description: Can run in check_mode and return changed status prediction without modifying target.
  diff_mode:
    support: none
    description: Will return details on what has changed (or possibly needs changing in check_mode), when in diff mode.
'''
