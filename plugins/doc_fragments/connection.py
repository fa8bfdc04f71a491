# -*- coding: utf-8 -*-
# Copyright: msp.screenconnect contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The connection options, described once. DOCUMENTATION is every module's (they read the environment
through env_fallback). The inventory plugin extends both: DOCUMENTATION, then PLUGINS, which adds
only the env: entries ansible-core merges into those options and reads as the plugin's configuration.
The connection plugin extends all three: CONNECTION_PLUGIN adds an ansible_screenconnect_<option> host
variable to each.
The table in module_utils/_connection_options.py is what runs; tests/unit/plugins/doc_fragments/
test_connection.py keeps the two equal."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type


class ModuleDocFragment(object):

    DOCUMENTATION = r'''
options:
  server_url:
    description:
      - Base URL of the ScreenConnect server, like C(https://acme.screenconnect.com).
      - No redirect is followed (a redirect could carry the secret to another server), so give the
        address that answers the API itself; an HTTP 3xx fails and names where it pointed.
      - If not set, the environment variable E(SCREENCONNECT_SERVER_URL) is used.
    type: str
    required: true
  api:
    description:
      - Which API to talk to.
      - V(rest) is the RESTful API Manager extension (the supported path).
      - V(session_manager) is the Session Manager JSON-RPC API (C(/Services/PageService.ashx)) with a
        Bearer API key or OAuth2 client credentials.
      - If not set, the environment variable E(SCREENCONNECT_API) is used.
    type: str
    choices: [rest, session_manager]
    default: rest
  api_secret:
    description:
      - The RESTful API Manager secret, sent raw in the C(CTRLAuthHeader) header (no C(Basic) prefix).
      - Required with O(api=rest).
      - If not set, the environment variable E(SCREENCONNECT_API_SECRET) is used.
    type: str
  extension_id:
    description:
      - Id of the RESTful API Manager extension; the same on every server.
      - If not set, the environment variable E(SCREENCONNECT_EXTENSION_ID) is used.
    type: str
    default: 2d558935-686a-4bd0-9991-07539f5fe749
  origin:
    description:
      - Value of the C(Origin) header; must match the extension's C(RESTfulAllowedOrigin) setting when
        the administrator filled it in. Defaults to C(scheme://host[:port]) of O(server_url), without
        its path or trailing slash, like a browser sends it.
      - When C(RESTfulAllowedOrigin) holds something else, a bare host name for example, set this to
        that value exactly (an HTTP 403 names the Origin that was sent).
      - If not set, the environment variable E(SCREENCONNECT_ORIGIN) is used.
    type: str
  api_key:
    description:
      - Bearer API key for O(api=session_manager).
      - If not set, the environment variable E(SCREENCONNECT_API_KEY) is used.
    type: str
  oauth_token_url:
    description:
      - OAuth2 token endpoint for client credentials with O(api=session_manager).
      - Like O(server_url), use C(https); a redirect from it is not followed.
      - If not set, the environment variable E(SCREENCONNECT_OAUTH_TOKEN_URL) is used.
    type: str
  oauth_client_id:
    description:
      - OAuth2 client id.
      - If not set, the environment variable E(SCREENCONNECT_OAUTH_CLIENT_ID) is used.
    type: str
  oauth_client_secret:
    description:
      - OAuth2 client secret.
      - If not set, the environment variable E(SCREENCONNECT_OAUTH_CLIENT_SECRET) is used.
    type: str
  validate_certs:
    description:
      - Verify the server's TLS certificate. Only turn this off for a test server.
      - If not set, the environment variable E(SCREENCONNECT_VALIDATE_CERTS) is used.
    type: bool
    default: true
  ca_path:
    description:
      - PEM file of the CA that signed the server's certificate (a private CA of an on-premises server).
      - If not set, the environment variable E(SCREENCONNECT_CA_PATH) is used.
    type: path
  timeout:
    description:
      - Seconds each HTTP request may take in all, from connecting to the last byte of the answer;
        a request that takes longer fails (and counts as a timeout for O(retries)).
    type: float
    default: 30
  rate_limit:
    description:
      - Requests per minute to this server, held across all forks and playbooks of one controller
        (a small lock file under C(~/.cache/msp.screenconnect), or C($XDG_CACHE_HOME/msp.screenconnect)).
      - When that directory cannot be written, the state moves to a private directory of this user
        under the system's temporary directory, with a warning.
      - If not set, the environment variable E(SCREENCONNECT_RATE_LIMIT) is used.
    type: float
    default: 30
  rate_burst:
    description:
      - How many requests may go at once before O(rate_limit) paces them.
    type: int
    default: 30
  retries:
    description:
      - How often to retry a request the server did not take (HTTP 429 or 503, honouring C(Retry-After)),
        or a read that failed with HTTP 502, 504 or a timeout.
      - A read that failed with HTTP 500 is asked once more after a second, whatever this says, as servers
        answer 500 to a bad filter or a wrong argument too, which asking again does not mend.
      - Commands, messages, notes, creates and updates are never sent twice after a 500, 502, 504 or
        timeout, because the server may have carried them out already.
    type: int
    default: 5
requirements:
  - requests
notes:
  - >-
    The modules and the inventory plugin talk to the server from the host they run on. Run the
    modules on the controller (C(hosts: localhost) or C(delegate_to: localhost)) so the shared rate
    limit covers every fork.
'''

    PLUGINS = r'''
options:
  server_url:
    env:
      - name: SCREENCONNECT_SERVER_URL
  api:
    env:
      - name: SCREENCONNECT_API
  api_secret:
    env:
      - name: SCREENCONNECT_API_SECRET
  extension_id:
    env:
      - name: SCREENCONNECT_EXTENSION_ID
  origin:
    env:
      - name: SCREENCONNECT_ORIGIN
  api_key:
    env:
      - name: SCREENCONNECT_API_KEY
  oauth_token_url:
    env:
      - name: SCREENCONNECT_OAUTH_TOKEN_URL
  oauth_client_id:
    env:
      - name: SCREENCONNECT_OAUTH_CLIENT_ID
  oauth_client_secret:
    env:
      - name: SCREENCONNECT_OAUTH_CLIENT_SECRET
  validate_certs:
    env:
      - name: SCREENCONNECT_VALIDATE_CERTS
  ca_path:
    env:
      - name: SCREENCONNECT_CA_PATH
  rate_limit:
    env:
      - name: SCREENCONNECT_RATE_LIMIT
'''

    # The connection plugin: each option also from a host variable (after PLUGINS' env entries).
    CONNECTION_PLUGIN = r'''
options:
  server_url:
    vars:
      - name: ansible_screenconnect_server_url
  api:
    vars:
      - name: ansible_screenconnect_api
  api_secret:
    vars:
      - name: ansible_screenconnect_api_secret
  extension_id:
    vars:
      - name: ansible_screenconnect_extension_id
  origin:
    vars:
      - name: ansible_screenconnect_origin
  api_key:
    vars:
      - name: ansible_screenconnect_api_key
  oauth_token_url:
    vars:
      - name: ansible_screenconnect_oauth_token_url
  oauth_client_id:
    vars:
      - name: ansible_screenconnect_oauth_client_id
  oauth_client_secret:
    vars:
      - name: ansible_screenconnect_oauth_client_secret
  validate_certs:
    vars:
      - name: ansible_screenconnect_validate_certs
  ca_path:
    vars:
      - name: ansible_screenconnect_ca_path
  timeout:
    vars:
      - name: ansible_screenconnect_timeout
  rate_limit:
    vars:
      - name: ansible_screenconnect_rate_limit
  rate_burst:
    vars:
      - name: ansible_screenconnect_rate_burst
  retries:
    vars:
      - name: ansible_screenconnect_retries
'''
