"""Print the Access fleet of the server in SCREENCONNECT_* through the installed collection."""

import os
import sys

for path in os.environ.get('ANSIBLE_COLLECTIONS_PATH', '').split(os.pathsep):
    if path:
        sys.path.insert(0, path)

from ansible_collections.msp.screenconnect.plugins.module_utils import _client  # noqa: E402

ROW = '%-12s %-24s %-10s %-12s %-8s %-7s %s'


def option_from_env(name):
    """The connection option `name` from its SCREENCONNECT_* variable, typed."""
    for option, option_type, _default, env, _secret in _client.CONNECTION_OPTIONS:
        if option == name and env and env in os.environ:
            value = os.environ[env]
            return {'float': float, 'int': int, 'bool': lambda v: v.lower() in ('1', 'true', 'yes')}.get(
                option_type, str)(value)
    return None


def main():
    client = _client.from_options(option_from_env)
    sessions = client.find_sessions()
    print(ROW % ('NAME', 'COMPANY', 'SITE', 'TAG', 'OS', 'ONLINE', 'LAST SEEN'))
    for session in sorted(sessions, key=lambda s: (s['properties']['company'], s['name'])):
        props = session['properties']
        print(ROW % (session['name'] or '(%s)' % session['guest']['machine_name'], props['company'][:24],
                     props['site'], props['tag'], session['guest']['os_family'],
                     'yes' if session['online'] else 'no', session['last_seen']))
    online = sum(1 for session in sessions if session['online'])
    print('%d Access sessions, %d online, read in %d request(s)' % (len(sessions), online, client.stats['requests']))


if __name__ == '__main__':
    main()
