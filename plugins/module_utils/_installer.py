# -*- coding: utf-8 -*-
# Copyright: msp.screenconnect contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Installer URL rules, shared by the installer_url module and the installer_url filter (whose
Windows targets cannot run Python modules), and the check that a download is an installer."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import re

from urllib.parse import quote

from ansible_collections.msp.screenconnect.plugins.module_utils import _connection_options, _sessions

PLATFORMS = ('msi', 'exe', 'pkg', 'deb', 'rpm', 'sh')
# The installer's `e` parameter spells Meeting as Meet.
INSTALLER_SESSION_TYPES = {'access': 'Access', 'support': 'Support', 'meeting': 'Meet'}
# First bytes of a real installer of each kind; an HTML page or an error text is none of them.
MAGIC = {
    'msi': (b'\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1',),   # OLE compound file
    'exe': (b'MZ',),
    'pkg': (b'xar!',),
    'deb': (b'!<arch>\n',),
    'rpm': (b'\xed\xab\xee\xdb',),
    'sh': (b'#!',),
}
_HOST_RE = re.compile(r'^[A-Za-z0-9.-]+$|^\[[0-9A-Fa-f:.]+\]$')


def check_options(platform, session_type='access', relay_host=None, relay_port=None, public_key=None):
    problems = []
    if platform not in PLATFORMS:
        problems.append('platform must be one of %s, got %r' % (', '.join(PLATFORMS), platform))
    if session_type not in INSTALLER_SESSION_TYPES:
        problems.append('session_type must be one of %s, got %r' % (', '.join(INSTALLER_SESSION_TYPES), session_type))
    if relay_host and not _HOST_RE.match(relay_host):
        problems.append('relay_host %r is not a host name or IP address' % (relay_host,))
    if relay_port is not None and (isinstance(relay_port, bool) or not isinstance(relay_port, int)
                                   or not 1 <= relay_port <= 65535):
        problems.append('relay_port must be a port number from 1 to 65535, got %r' % (relay_port,))
    if public_key and not re.match(r'^[A-Za-z0-9+/=\s]+$', public_key):
        problems.append('public_key must be the base64 public key from the server, got other characters')
    return problems


def installer_url(server_url, platform, name='', custom_properties=None, session_type='access',
                  relay_host=None, relay_port=None, public_key=None):
    """The pre-keyed installer URL; every value URL-encoded, always all 8 `c=` slots. ValueError
    naming the option for bad input (server_url by the same check as every module's)."""
    problems = _connection_options.validate_options({'server_url': server_url}, credentials=False)
    problems += check_options(platform, session_type, relay_host, relay_port, public_key)
    if problems:
        raise ValueError('; '.join(problems))
    query = [('e', INSTALLER_SESSION_TYPES[session_type]), ('y', 'Guest'), ('t', name or '')]
    query += [('c', value) for value in _sessions.custom_property_list(custom_properties)]
    if relay_host:
        query.append(('h', relay_host))
    if relay_port is not None:
        query.append(('p', str(relay_port)))
    if public_key:
        query.append(('k', re.sub(r'\s+', '', public_key)))
    encoded = '&'.join('%s=%s' % (key, quote(str(value).encode('utf-8'), safe='')) for key, value in query)
    return '%s/Bin/ScreenConnect.ClientSetup.%s?%s' % (server_url.rstrip('/'), platform, encoded)


def looks_like_installer(platform, first_bytes, content_type=''):
    """True when the first bytes of a download are an installer of `platform`."""
    if 'html' in (content_type or '').lower():
        return False
    return any(first_bytes.startswith(magic) for magic in MAGIC.get(platform, ()))
