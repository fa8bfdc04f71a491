#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: msp.screenconnect contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r'''
module: installer_url
short_description: Build the parameterized ScreenConnect agent installer URL
version_added: 0.1.0
description:
  - Builds C({server_url}/Bin/ScreenConnect.ClientSetup.{platform}?e=Access&y=Guest&t={name}&c=...&c=...)
    with all 8 custom property slots and, for on-premises servers, the relay host, port and public key.
    Every value is URL-encoded.
  - A pure function of its options. No secret is needed and nothing is sent, unless O(validate=true).
  - Accepts every connection option, so C(module_defaults) for the action group work; only
    O(server_url), O(validate_certs), O(ca_path) and O(timeout) are used.
options:
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
      - Custom property values by name (see O(property_names)).
    type: dict
  custom_properties:
    description:
      - Custom property values by slot (1-8), or a list of up to 8 values from slot 1.
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
  validate:
    description:
      - Download the start of the installer and fail unless it is a real installer of O(platform)
        (an HTML login or error page is not).
    type: bool
    default: false
extends_documentation_fragment:
  - msp.screenconnect.connection
  - msp.screenconnect.attributes
  - msp.screenconnect.attributes.info_module
author:
  - MSP ScreenConnect maintainers (@msp-ansible)
'''

EXAMPLES = r'''
# Runs on the controller: hosts: localhost, or delegate_to: localhost.
- name: MSI for this Windows host, filed under its company and site
  msp.screenconnect.installer_url:
    server_url: https://acme.screenconnect.com
    platform: msi
    name: "{{ inventory_hostname_short | upper }}"
    properties:
      company: "O'Reilly & Sons"
      site: Branch 1
      tag: workstation
  delegate_to: localhost
  register: msi

- name: Debian package from an on-premises server, checked to be a real package
  msp.screenconnect.installer_url:
    server_url: https://support.example.net
    platform: deb
    name: "{{ inventory_hostname_short }}"
    relay_host: relay.example.net
    relay_port: 8041
    public_key: "{{ screenconnect_public_key }}"
    validate: true
  delegate_to: localhost
  register: deb
'''

RETURN = r'''
url:
  description: The installer URL.
  returned: always
  type: str
  sample: https://acme.screenconnect.com/Bin/ScreenConnect.ClientSetup.msi?e=Access&y=Guest&t=WS-01&c=Acme&c=HQ&c=&c=&c=&c=&c=&c=
custom_properties:
  description: The 8 values in the URL, in slot order.
  returned: always
  type: list
  elements: str
content_type:
  description: The Content-Type the server answered with.
  returned: when O(validate=true)
  type: str
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

from ansible_collections.msp.screenconnect.plugins.module_utils import _client, _connection_options, _installer, _sessions
from ansible_collections.msp.screenconnect.plugins.module_utils._module import PROPERTY_NAMES_OPTION, ScreenConnectModule


def validate(module, url, platform):
    """GET the start of the installer; fail unless its first bytes are an installer of `platform`."""
    if not _client.HAS_REQUESTS:
        module.fail_json(msg='validate: true needs the Python library requests on the controller')
    try:
        response = _client.requests.get(url, stream=True, timeout=module.params['timeout'],
                                        verify=_connection_options.tls_verify(module.params),
                                        headers={'User-Agent': _client.USER_AGENT})
        first = next(response.iter_content(64), b'')
        response.close()
    except _client.requests.exceptions.RequestException as error:
        module.fail_json(msg='validate: could not download %s: %s' % (url, type(error).__name__))
    content_type = response.headers.get('Content-Type', '')
    if response.status_code != 200 or not _installer.looks_like_installer(platform, first, content_type):
        module.fail_json(msg='validate: %s answered HTTP %d %s, which is not a %s installer; check server_url '
                             'and that the server serves installers' % (url, response.status_code,
                                                                        content_type or 'without a type', platform),
                         url=url, status=response.status_code, content_type=content_type)
    return content_type


def main():
    argument_spec = dict(PROPERTY_NAMES_OPTION)
    argument_spec.update(
        platform={'type': 'str', 'required': True, 'choices': list(_installer.PLATFORMS)},
        name={'type': 'str', 'default': ''},
        properties={'type': 'dict'},
        custom_properties={'type': 'raw'},
        session_type={'type': 'str', 'choices': ['access', 'support', 'meeting'], 'default': 'access'},
        relay_host={'type': 'str'},
        relay_port={'type': 'int'},
        public_key={'type': 'str', 'no_log': False},  # the server's public key, not a secret
        validate={'type': 'bool', 'default': False},
    )
    module = ScreenConnectModule(argument_spec=argument_spec, supports_check_mode=True)
    params = module.params
    problems = _connection_options.validate_options(params, credentials=False)
    problems += _sessions.validate_property_names(params['property_names'])
    values = None
    if not problems:
        try:
            values = _sessions.wanted_custom_properties([], params['property_names'], params['properties'],
                                                        params['custom_properties'])
            url = _installer.installer_url(params['server_url'], params['platform'], params['name'], values,
                                           params['session_type'], params['relay_host'], params['relay_port'],
                                           params['public_key'])
        except ValueError as error:
            problems.append(str(error))
    if problems:
        module.fail_json(msg='; '.join(problems))
    result = {'changed': False, 'url': url, 'custom_properties': values}
    if params['validate']:
        result['content_type'] = validate(module, url, params['platform'])
    module.exit_json(**result)


if __name__ == '__main__':
    main()
