# -*- coding: utf-8 -*-
# Copyright: msp.screenconnect contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The connection options, described once (_OPTIONS) and given two ways: DOCUMENTATION for modules,
which read the environment through env_fallback, and PLUGINS for the inventory plugin, where the
env: entries are its configuration. The table in module_utils/_connection_options.py is what runs;
tests/unit/plugins/doc_fragments/test_connection.py keeps both equal to it."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import re

# Each option once, with the environment variable it falls back to.
_OPTIONS = r'''
  server_url:
    description:
      - Base URL of the ScreenConnect server, like C(https://acme.screenconnect.com).
    type: str
    required: true
    env:
      - name: SCREENCONNECT_SERVER_URL
  api:
    description:
      - Which API to talk to.
      - V(rest) is the RESTful API Manager extension (the supported path).
      - V(session_manager) is the Session Manager JSON-RPC API (C(/Services/PageService.ashx)) with a
        Bearer API key or OAuth2 client credentials.
    type: str
    choices: [rest, session_manager]
    default: rest
    env:
      - name: SCREENCONNECT_API
  api_secret:
    description:
      - The RESTful API Manager secret, sent raw in the C(CTRLAuthHeader) header (no C(Basic) prefix).
      - Required with O(api=rest).
    type: str
    env:
      - name: SCREENCONNECT_API_SECRET
  extension_id:
    description:
      - Id of the RESTful API Manager extension; the same on every server.
    type: str
    default: 2d558935-686a-4bd0-9991-07539f5fe749
    env:
      - name: SCREENCONNECT_EXTENSION_ID
  origin:
    description:
      - Value of the C(Origin) header; must match the extension's C(RESTfulAllowedOrigin) setting when
        the administrator filled it in. Defaults to O(server_url).
    type: str
    env:
      - name: SCREENCONNECT_ORIGIN
  api_key:
    description:
      - Bearer API key for O(api=session_manager).
    type: str
    env:
      - name: SCREENCONNECT_API_KEY
  oauth_token_url:
    description:
      - OAuth2 token endpoint for client credentials with O(api=session_manager).
    type: str
    env:
      - name: SCREENCONNECT_OAUTH_TOKEN_URL
  oauth_client_id:
    description:
      - OAuth2 client id.
    type: str
    env:
      - name: SCREENCONNECT_OAUTH_CLIENT_ID
  oauth_client_secret:
    description:
      - OAuth2 client secret.
    type: str
    env:
      - name: SCREENCONNECT_OAUTH_CLIENT_SECRET
  validate_certs:
    description:
      - Verify the server's TLS certificate. Only turn this off for a test server.
    type: bool
    default: true
    env:
      - name: SCREENCONNECT_VALIDATE_CERTS
  ca_path:
    description:
      - PEM file of the CA that signed the server's certificate (a private CA of an on-premises server).
    type: path
    env:
      - name: SCREENCONNECT_CA_PATH
  timeout:
    description:
      - Seconds to wait for each HTTP request.
    type: float
    default: 30
  rate_limit:
    description:
      - Requests per minute to this server, held across all forks and playbooks of one controller
        (a small lock file under C(~/.cache/msp.screenconnect)).
    type: float
    default: 30
    env:
      - name: SCREENCONNECT_RATE_LIMIT
  rate_burst:
    description:
      - How many requests may go at once before O(rate_limit) paces them.
    type: int
    default: 30
  retries:
    description:
      - How often to retry a request the server did not take (HTTP 429 or 503, honouring C(Retry-After)),
        or a read that failed with HTTP 500, 502, 504 or a timeout.
      - Commands, messages, notes, creates and updates are never sent twice after a 500, 502, 504 or
        timeout, because the server may have carried them out already.
    type: int
    default: 5
'''

_REQUIREMENTS = '''requirements:
  - requests
'''

_MODULE_NOTES = '''notes:
  - >-
    The modules talk to the server from the host they run on. Run them on the controller
    (C(hosts: localhost) or C(delegate_to: localhost)) so the shared rate limit covers every fork.
'''

_ENV = re.compile(r'\n    env:\n      - name: (\w+)')


def _module_form(options):
    """Modules document the variable in words: their env_fallback is code, not configuration."""
    blocks = re.split(r'(?m)^(?=  \w+:$)', options)
    out = []
    for block in blocks:
        match = _ENV.search(block)
        if match:
            block = _ENV.sub('', block)
            # The sentence goes last in the description list, before the option's next key.
            block = re.sub(r'(?m)(    description:\n(?:      .*\n|        .*\n)+)',
                           lambda found: found.group(1) + '      - If not set, the environment variable E(%s) is used.\n'
                           % match.group(1), block, count=1)
        out.append(block)
    return ''.join(out)


class ModuleDocFragment(object):

    DOCUMENTATION = 'options:' + _module_form(_OPTIONS) + _REQUIREMENTS + _MODULE_NOTES

    PLUGINS = 'options:' + _OPTIONS + _REQUIREMENTS
