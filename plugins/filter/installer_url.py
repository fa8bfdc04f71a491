# -*- coding: utf-8 -*-
# Copyright: msp.screenconnect contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r'''
name: installer_url
short_description: Build the parameterized ScreenConnect agent installer URL in a template
version_added: 0.1.0
description:
  - Builds C({server_url}/Bin/ScreenConnect.ClientSetup.{platform}?e=Access&y=Guest&t={name}&c=...&c=...)
    with all 8 custom property slots and, for on-premises servers, the relay host, port and public key.
    Every value is URL-encoded.
  - The same rules as the M(msp.screenconnect.installer_url) module (shared code), for places where a
    module cannot run, such as a role whose Windows targets cannot run Python modules.
  - Runs on the controller while templating; sends nothing.
positional: _input, platform
options:
  _input:
    description: The server URL, like C(https://acme.screenconnect.com).
    type: str
    required: true
  platform:
    description:
      - Installer kind. V(msi) and V(exe) for Windows, V(pkg) for macOS, V(deb), V(rpm) and V(sh) for Linux.
    type: str
    required: true
    choices: [msi, exe, pkg, deb, rpm, sh]
  name:
    description:
      - Session Name the agent registers with (C(t=)); usually the machine's host name.
    type: str
    default: ""
  properties:
    description:
      - Custom property values by name (see O(property_names)). Empty or null values leave their slot empty.
    type: dict
  custom_properties:
    description:
      - Custom property values by slot (1-8), or a list of up to 8 values from slot 1.
      - Applied after O(properties).
    type: raw
  property_names:
    description:
      - Maps property names to slots.
    type: dict
    default: {company: 1, site: 2, tag: 3}
  session_type:
    description:
      - Session type the installer creates (C(e=)).
    type: str
    choices: [access, support, meeting]
    default: access
  relay_host:
    description:
      - On-premises relay host (C(h=)).
    type: str
  relay_port:
    description:
      - On-premises relay port (C(p=)), 8041 by default on premises.
    type: int
  public_key:
    description:
      - The server's base64 public key (C(k=)) for on-premises servers.
    type: str
seealso:
  - module: msp.screenconnect.installer_url
author:
  - MSP ScreenConnect maintainers (@msp-ansible)
'''

EXAMPLES = r'''
- name: MSI URL for this Windows host, filed under its company and site
  ansible.builtin.set_fact:
    agent_url: >-
      {{ 'https://acme.screenconnect.com' | msp.screenconnect.installer_url('msi',
           name=inventory_hostname_short | upper,
           properties={'company': "O'Reilly & Sons", 'site': 'Branch 1'}) }}
  # https://acme.screenconnect.com/Bin/ScreenConnect.ClientSetup.msi?e=Access&y=Guest&t=WS-01
  #   &c=O%27Reilly%20%26%20Sons&c=Branch%201&c=&c=&c=&c=&c=&c=

- name: Debian package of an on-premises server, slot 4 set by number
  ansible.builtin.get_url:
    url: >-
      {{ screenconnect_server | msp.screenconnect.installer_url('deb', name=ansible_facts['hostname'],
           custom_properties={4: 'Rack 12'}, relay_host='relay.example.net', relay_port=8041,
           public_key=screenconnect_public_key) }}
    dest: /root/agent.deb
    mode: '0600'
'''

RETURN = r'''
_value:
  description: The installer URL.
  type: str
  sample: https://acme.screenconnect.com/Bin/ScreenConnect.ClientSetup.msi?e=Access&y=Guest&t=WS-01&c=Acme&c=HQ&c=&c=&c=&c=&c=&c=
'''

from ansible.errors import AnsibleFilterError
from ansible.module_utils.common.text.converters import to_text

from ansible_collections.msp.screenconnect.plugins.module_utils import _installer, _sessions


def _port(value):
    if value is None or value == '':
        return None
    if isinstance(value, str) and value.strip().isdigit():
        return int(value.strip())
    return value


def _optional_text(value):
    return None if value is None or value == '' else to_text(value)


def installer_url(server_url, platform, name='', properties=None, custom_properties=None, property_names=None,
                  session_type='access', relay_host=None, relay_port=None, public_key=None):
    """The installer URL, by the shared rules of module_utils/_installer.py."""
    if not isinstance(server_url, str) or not server_url.strip():
        raise AnsibleFilterError('installer_url: the input must be the server URL, like https://acme.screenconnect.com')
    if property_names is None:
        property_names = dict(_sessions.DEFAULT_PROPERTY_NAMES)
    problems = _sessions.validate_property_names(property_names)
    if properties is not None and not isinstance(properties, dict):
        problems.append('properties must be a mapping of property name to value')
    if problems:
        raise AnsibleFilterError('installer_url: %s' % '; '.join(problems))
    # Unset names (null) leave their slot empty rather than writing "None" into it.
    properties = dict((key, '' if value is None else value) for key, value in (properties or {}).items())
    try:
        values = _sessions.wanted_custom_properties([], property_names, properties, custom_properties)
        return _installer.installer_url(server_url.strip(), to_text(platform), to_text(name or ''), values,
                                        to_text(session_type), _optional_text(relay_host), _port(relay_port),
                                        _optional_text(public_key))
    except ValueError as error:
        raise AnsibleFilterError('installer_url: %s' % error)


class FilterModule(object):
    def filters(self):
        return {'installer_url': installer_url}
