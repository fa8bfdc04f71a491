# -*- coding: utf-8 -*-
# Copyright: msp.screenconnect contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The connection options of every module and of the inventory plugin, once: their table (name,
type, default, environment variable, secret) and the checks run on them before any request.
Documented in doc_fragments/connection.py; a unit test keeps the two equal."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import os
import re
from urllib.parse import urlsplit

from ansible_collections.msp.screenconnect.plugins.module_utils import _sessions

DEFAULT_EXTENSION_ID = '2d558935-686a-4bd0-9991-07539f5fe749'
APIS = ('rest', 'session_manager')
SECRET_OPTIONS = ('api_secret', 'api_key', 'oauth_client_secret')

# Every connection option: (name, type, default, environment variable, secret).
CONNECTION_OPTIONS = (
    ('server_url', 'str', None, 'SCREENCONNECT_SERVER_URL', False),
    ('api', 'str', 'rest', 'SCREENCONNECT_API', False),
    ('api_secret', 'str', None, 'SCREENCONNECT_API_SECRET', True),
    ('extension_id', 'str', DEFAULT_EXTENSION_ID, 'SCREENCONNECT_EXTENSION_ID', False),
    ('origin', 'str', None, 'SCREENCONNECT_ORIGIN', False),
    ('api_key', 'str', None, 'SCREENCONNECT_API_KEY', True),
    ('oauth_token_url', 'str', None, 'SCREENCONNECT_OAUTH_TOKEN_URL', False),
    ('oauth_client_id', 'str', None, 'SCREENCONNECT_OAUTH_CLIENT_ID', False),
    ('oauth_client_secret', 'str', None, 'SCREENCONNECT_OAUTH_CLIENT_SECRET', True),
    ('validate_certs', 'bool', True, 'SCREENCONNECT_VALIDATE_CERTS', False),
    ('ca_path', 'path', None, 'SCREENCONNECT_CA_PATH', False),
    ('timeout', 'float', 30, None, False),
    ('rate_limit', 'float', 30, 'SCREENCONNECT_RATE_LIMIT', False),
    ('rate_burst', 'int', 30, None, False),
    ('retries', 'int', 5, None, False),
)


class ConfigError(ValueError):
    """Bad connection options, found before any request is sent."""


def tls_verify(options):
    """requests' verify= for the options: the CA bundle of ca_path, True, or False."""
    return (options.get('ca_path') or True) if options.get('validate_certs', True) else False


def default_origin(server_url):
    """The Origin a browser on server_url sends: scheme://host[:port], never a path or a trailing slash."""
    parts = urlsplit(str(server_url).strip())
    host = parts.netloc.rpartition('@')[2]  # user:password@ is never part of an Origin
    return '%s://%s' % (parts.scheme.lower(), host.lower())


def validate_options(options, credentials=True):
    """Return the list of problems with the connection options; each names the option and the fix.
    credentials=False leaves out the secrets (for what needs no API access, like installer URLs)."""
    problems = []
    url = options.get('server_url')
    if not url:
        problems.append('server_url is required: set server_url (or SCREENCONNECT_SERVER_URL) '
                        'to your server, like https://acme.screenconnect.com')
    elif not re.match(r'^https?://[^/\s?#]+(/[^\s?#]*)?$', str(url)):
        problems.append('server_url %r is not an http(s) URL: use the form https://acme.screenconnect.com' % (url,))
    api = options.get('api') or 'rest'
    if api not in APIS:
        problems.append("api must be 'rest' or 'session_manager', got %r" % (api,))
    elif not credentials:
        pass
    elif api == 'rest' and not options.get('api_secret'):
        problems.append("api_secret is required with api 'rest': set api_secret (or SCREENCONNECT_API_SECRET) "
                        'to the RESTful API Manager secret')
    elif api == 'session_manager':
        oauth = [name for name in ('oauth_token_url', 'oauth_client_id', 'oauth_client_secret') if options.get(name)]
        if oauth and len(oauth) < 3:
            problems.append('OAuth needs all of oauth_token_url, oauth_client_id and oauth_client_secret '
                            '(only %s given)' % ', '.join(oauth))
        elif not oauth and not options.get('api_key'):
            problems.append("api 'session_manager' needs api_key (SCREENCONNECT_API_KEY) or the three "
                            'oauth_token_url, oauth_client_id and oauth_client_secret')
    ca_path = options.get('ca_path')
    if ca_path and not os.path.exists(ca_path):
        problems.append('ca_path %s does not exist: give the PEM file of the CA that signed the server certificate'
                        % ca_path)
    origin = options.get('origin')
    if origin and not re.match(r'^[^\s]+$', str(origin)):
        problems.append('origin %r holds white space: set it to the value of the extension\'s RESTfulAllowedOrigin, '
                        'like https://acme.screenconnect.com' % (origin,))
    extension_id = options.get('extension_id')
    if extension_id and not _sessions.is_session_id(extension_id):
        problems.append('extension_id %r is not a GUID: leave it unset for the RESTful API Manager (%s)'
                        % (extension_id, DEFAULT_EXTENSION_ID))
    for name, low in (('timeout', 0), ('rate_limit', 0)):
        value = options.get(name)
        if value is not None and not _number_above(value, low):
            problems.append('%s must be a number above %s, got %r' % (name, low, value))
    for name, low in (('rate_burst', 1), ('retries', 0)):
        value = options.get(name)
        if value is not None and not (_is_int(value) and int(value) >= low):
            problems.append('%s must be a whole number of at least %d, got %r' % (name, low, value))
    return problems


def _is_int(value):
    return not isinstance(value, bool) and isinstance(value, int)


def _number_above(value, low):
    return not isinstance(value, bool) and isinstance(value, (int, float)) and value > low
