# -*- coding: utf-8 -*-
# Copyright: msp.screenconnect contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r'''
name: screenconnect
short_description: ScreenConnect Access sessions as hosts, grouped by Company, Site and Tag
version_added: 0.1.0
description:
  - Reads the live Access sessions of a ScreenConnect server in one request (C(GetSessionsByFilter), or
    C(GetSessions) with O(api=session_manager)) and makes each a host.
  - Hostvars carry the normalized session with the prefix C(screenconnect_), and each property name on
    its own (C(screenconnect_company), C(screenconnect_site), C(screenconnect_tag)).
  - Default groups are built in Python in one pass, C(company_<company>), C(site_<site>), C(tag_<tag>)
    (one group per O(tag_separator)-separated tag), C(screenconnect_online), C(screenconnect_offline),
    C(os_windows), C(os_linux) and C(os_macos). Names are made safe. They are lower case, accents
    are dropped, each run of other characters becomes one C(_), and no C(_) is left at either end, so
    C(O'Reilly & Sons) gives C(company_o_reilly_sons). Empty values make no group.
  - Ended sessions (agent removed) are left out.
  - The config file name must end in C(screenconnect.yml) or C(screenconnect.yaml).
extends_documentation_fragment:
  - msp.screenconnect.connection
  - msp.screenconnect.connection.plugins
  - ansible.builtin.constructed
  - ansible.builtin.inventory_cache
options:
  plugin:
    description: The name of this plugin; must be C(msp.screenconnect.screenconnect).
    type: str
    required: true
    choices: [msp.screenconnect.screenconnect]
  session_type:
    description:
      - Which sessions become hosts. Only Access sessions have an installed agent.
    type: str
    choices: [access, support, meeting, all]
    default: access
  filter:
    description:
      - A server-side session filter expression added with AND, like C(CustomProperty1 = 'Acme').
    type: str
  hostnames:
    description:
      - Host name of a session, the first non-empty of these keys of the normalized session.
    type: list
    elements: str
    choices: [name, machine_name, session_id, serial_number, private_ip]
    default: [name, machine_name, session_id]
  property_names:
    description:
      - Maps custom property names to slots (1-8). Each name becomes a hostvar C(screenconnect_<name>).
    type: dict
    default: {company: 1, site: 2, tag: 3}
  group_by:
    description:
      - Which property names make default groups C(<name>_<value>).
    type: list
    elements: str
    default: [company, site, tag]
  tag_separator:
    description:
      - Splits the C(tag) property into several groups (C(web,prod) gives C(tag_web) and C(tag_prod)).
        An empty string keeps the value whole.
    type: str
    default: ","
  duplicates:
    description:
      - Re-imaged machines leave several sessions with one host name.
      - V(newest) keeps the one seen last. V(all) keeps every one; the older ones get the first 8
        characters of their session id as a suffix (C(WS-00004_5523a541)).
    type: str
    choices: [newest, all]
    default: newest
'''

EXAMPLES = r'''
# One YAML document (ansible-test's yamllint takes no more), so the other configs are comments.
#
# The smallest config, screenconnect.yml, with the connection from SCREENCONNECT_* variables (an
# AWX credential):
#   plugin: msp.screenconnect.screenconnect
#
# sites.screenconnect.yml: Site kept in slot 4, groups by Company and Site only. A Company named
# "O'Reilly & Sons" makes the group company_o_reilly_sons
# (ansible-playbook site.yml -i sites.screenconnect.yml --limit company_o_reilly_sons):
#   plugin: msp.screenconnect.screenconnect
#   property_names: {company: 1, site: 4, tag: 3}
#   group_by: [company, site]
#
# acme.screenconnect.yml: one customer, Linux hosts reachable by their private IP, cached 15 minutes.
plugin: msp.screenconnect.screenconnect
server_url: https://acme.screenconnect.com
filter: "CustomProperty1 = 'Acme Corp'"
compose:
  ansible_host: screenconnect_guest.private_ip
keyed_groups:
  - key: screenconnect_guest.domain
    prefix: domain
cache: true
cache_plugin: ansible.builtin.jsonfile
cache_connection: ~/.cache/screenconnect-inventory
cache_timeout: 900
'''

import hashlib
import json
import os
import re
import unicodedata

from ansible.errors import AnsibleError, AnsibleParserError
from ansible.module_utils.common.text.converters import to_text
from ansible.plugins.inventory import BaseInventoryPlugin, Cacheable, Constructable
from ansible.release import __version__ as ansible_version

from ansible_collections.msp.screenconnect.plugins.module_utils import _client, _sessions

try:  # ansible-core 2.19+
    from ansible.template import trust_as_template
except ImportError:
    trust_as_template = None
try:
    from ansible.utils.unsafe_proxy import wrap_var
except ImportError:  # pragma: no cover
    wrap_var = None

_CORE = tuple(int(part) for part in re.findall(r'\d+', ansible_version)[:2])
# Names and custom properties are typed by end users, so text that could be a template must never
# render, yet AWX imports `ansible-inventory --list --export` with its own code, which does not
# unwrap {"__ansible_unsafe": ...}: a wrapped host name crashes its sync, a wrapped hostvar is
# stored as a dict. So only text that could be a template is marked: unsafe on ansible-core < 2.19
# (which templates plugin strings), and on 2.19+, which distrusts every plugin string, the rest is
# marked trusted so that it is written plain.
MARK_TRUSTED = trust_as_template is not None and _CORE >= (2, 19)
MARK_UNSAFE = not MARK_TRUSTED and wrap_var is not None
_UNSAFE_GROUP_CHARS = re.compile(r'[^a-z0-9]+')
_FILE_NAME = re.compile(r'(^|[./])screenconnect\.ya?ml$')


def safe_group_name(value):
    """'Café Müller (EU)' -> 'cafe_muller_eu': lower case, accents dropped, every run of other
    characters (underscores included) one _, none at either end, so a limit is easy to type."""
    text = unicodedata.normalize('NFKD', value.lower())
    text = ''.join(char for char in text if not unicodedata.combining(char))
    return _UNSAFE_GROUP_CHARS.sub('_', text).strip('_')


def may_be_template(text):
    """Whether Jinja could find a template in `text`: braces, or a #jinja2: delimiter override."""
    return '{' in text or '}' in text or text.startswith('#jinja2:')


def host_name(session, keys, skipped=None):
    """The first non-empty of `keys` that is no template; `skipped` collects (key, value) passed over."""
    for key in keys:
        value = session.get(key) if key in ('name', 'session_id') else session['guest'].get(key)
        if value and may_be_template(value):
            if skipped is not None:
                skipped.append((key, value))
        elif value:
            return value
    return session['session_id']


def pick_hosts(sessions, keys, duplicates, warn=None):
    """[(host name, session)] with duplicates of one name resolved by last_seen. A host name is
    plain text everywhere it goes (AWX included): one that could be a template is passed over
    for the next of `keys`, and `warn` hears of it."""
    by_name = {}
    for session in sessions:
        skipped = []
        name = host_name(session, keys, skipped)
        if skipped and warn:
            warn('session %s: %s; its host name is %s' % (session['session_id'], ', '.join(
                '%s %r holds template markers' % item for item in skipped), name))
        by_name.setdefault(name, []).append(session)
    hosts = []
    for name, group in by_name.items():
        # Newest first; never-seen sessions ('' sorts before any time) last.
        group.sort(key=lambda session: session['last_seen'] or '', reverse=True)
        hosts.append((name, group[0]))
        if duplicates == 'all':
            hosts.extend(('%s_%s' % (name, session['session_id'][:8]), session) for session in group[1:])
    return hosts


def _property_groups(name, value, tag_separator):
    values = value.split(tag_separator) if name == 'tag' and tag_separator else [value]
    groups = []
    for item in values:
        safe = safe_group_name(item)
        if safe:
            groups.append('%s_%s' % (name, safe))
    return groups


def default_groups(session, group_by, tag_separator, memo=None):
    """The default groups of one session. `memo` (a dict) keeps the names of values seen before:
    a fleet has few distinct companies, sites and tags, and making a name safe is the costly part."""
    memo = {} if memo is None else memo
    groups = []
    properties = session['properties']
    for name in group_by:
        value = properties.get(name, '')
        names = memo.get((name, value))
        if names is None:
            names = memo[(name, value)] = _property_groups(name, value, tag_separator)
        groups.extend(names)
    groups.append('screenconnect_online' if session['online'] else 'screenconnect_offline')
    family = session['guest']['os_family']
    if family != 'unknown':
        groups.append('os_%s' % family)
    return groups


def build_hosts(raw_sessions, api, property_names, hostnames, duplicates, group_by, tag_separator, warn=None):
    """[(host name, hostvars, default groups)] of a server answer: all but the Jinja, in one pass."""
    sessions = []
    for raw in raw_sessions or []:
        try:
            session = _sessions.normalize_session(raw, api, property_names)
        except _sessions.SessionDataError:
            continue
        # The session id is the host name of last resort: one that is no GUID-like text is junk.
        if not session['is_ended'] and not may_be_template(session['session_id']):
            sessions.append(session)
    hosts = []
    memo = {}
    for name, session in pick_hosts(sessions, hostnames, duplicates, warn):
        hostvars = dict(('screenconnect_%s' % key, value) for key, value in session.items())
        for prop, value in session['properties'].items():
            hostvars['screenconnect_%s' % prop] = value
        hosts.append((name, hostvars, default_groups(session, group_by, tag_separator, memo)))
    return hosts


class TextMarker:
    """Marks the strings of hostvars for ansible-core (see MARK_TRUSTED): a copy of the value
    with each string marked. A fleet repeats its companies, OS names and versions, so each
    distinct string is marked once and the marked object reused.

    `origin`: on 2.19+, the Origin tag ansible-core's inventory wrapper puts on every value that
    has none. A trusted string given to it without one is copied and tagged again, per value; one
    that already carries it is stored as it is. Tagging each distinct string once here saves that
    (10k hosts on 2.21: about 0.8 s of 6 s, and a third of the memory)."""

    def __init__(self, trusted=MARK_TRUSTED, unsafe=MARK_UNSAFE, origin=None):
        self._mark = trust_as_template if trusted else None
        self._unsafe = wrap_var if unsafe and not trusted else None
        self._origin = origin if trusted else None
        self._memo = {}

    def _text(self, text):
        marked = self._memo.get(text)
        if marked is None:
            if may_be_template(text):
                marked = self._unsafe(text) if self._unsafe else text  # 2.19+ distrusts it anyway
            else:
                marked = self._mark(text) if self._mark else text
            if self._origin is not None:
                marked = self._origin.tag(marked)
            self._memo[text] = marked
        return marked

    def __call__(self, value):
        # Runs for every value of every host (50k hosts: some 2 million): exact type checks and
        # a memo look-up first, a call only for what is new.
        kind = type(value)
        if kind is str:
            marked = self._memo.get(value)
            return self._text(value) if marked is None else marked
        if kind is dict:
            return dict((key, self(item)) for key, item in value.items())
        if kind is list:
            return [self(item) for item in value]
        return value  # numbers, booleans, None: the normalizer makes every text a plain str

    @property
    def active(self):
        return self._mark is not None or self._unsafe is not None


class InventoryModule(BaseInventoryPlugin, Constructable, Cacheable):

    NAME = 'msp.screenconnect.screenconnect'

    def verify_file(self, path):
        """True for screenconnect.yml / *.screenconnect.yaml; never raises."""
        try:
            return (bool(_FILE_NAME.search(to_text(path))) and os.path.isfile(path)
                    and super(InventoryModule, self).verify_file(path))
        except Exception:
            return False

    def _cache_key(self):
        """Server, API, filter and a hash of who asks, never the secret itself."""
        identity = self.get_option('oauth_client_id') or self.get_option('api_secret') or self.get_option('api_key') or ''
        parts = [self.get_option(name) for name in ('server_url', 'api', 'extension_id', 'session_type', 'filter')]
        parts.append(hashlib.sha256(('msp.screenconnect:' + identity).encode('utf-8')).hexdigest()[:16])
        digest = hashlib.sha256(json.dumps(parts).encode('utf-8')).hexdigest()[:32]
        return 'msp.screenconnect_%s' % digest

    def _fetch(self):
        try:
            client = _client.from_options(self.get_option)
            for warning in client.warnings:
                self.display.warning('msp.screenconnect.screenconnect: %s' % warning)
            return client.fetch_sessions_raw(self.get_option('filter'), self.get_option('session_type'))
        except (_client.ConfigError, _client.ScreenConnectError) as error:
            raise AnsibleError('msp.screenconnect.screenconnect: %s' % error)

    def parse(self, inventory, loader, path, cache=True):
        super(InventoryModule, self).parse(inventory, loader, path, cache)
        self._read_config_data(path)
        problems = _sessions.validate_property_names(self.get_option('property_names'))
        unknown = [name for name in self.get_option('group_by') if name not in (self.get_option('property_names') or {})]
        if unknown:
            problems.append('group_by: %s not in property_names' % ', '.join(unknown))
        if problems:
            raise AnsibleParserError('msp.screenconnect.screenconnect: %s' % '; '.join(problems))

        key = self._cache_key()
        use_cache = self.get_option('cache') and cache
        update_cache = self.get_option('cache') and not cache
        raw = None
        if use_cache:
            try:
                raw = self._cache[key]
            except KeyError:
                update_cache = True
        if raw is None:
            raw = self._fetch()
        if update_cache:
            self._cache[key] = raw
        hosts = build_hosts(raw, self.get_option('api'), self.get_option('property_names'),
                            self.get_option('hostnames'), self.get_option('duplicates'),
                            self.get_option('group_by'), self.get_option('tag_separator'),
                            warn=lambda text: self.display.warning('msp.screenconnect.screenconnect: %s' % text))
        # Without a cache nothing else holds the raw answer (50k sessions: hundreds of MB of
        # objects): let it go before ansible-core gets the hosts; measured 0.9 s less at 50k.
        raw = None
        self._populate(hosts)

    def _populate(self, hosts):
        inventory = self.inventory
        strict = self.get_option('strict')
        compose = self.get_option('compose')
        composed_groups = self.get_option('groups')
        keyed_groups = self.get_option('keyed_groups')
        constructed = compose or composed_groups or keyed_groups
        known_groups = set()
        # The wrapper ansible-core 2.19+ hands plugins keeps its Origin here; older cores, none.
        mark = TextMarker(origin=getattr(inventory, '_default_origin', None))
        for name, hostvars, groups in hosts:
            if mark.active:
                hostvars = mark(hostvars)
            inventory.add_host(name)
            for var, value in hostvars.items():
                inventory.set_variable(name, var, value)
            for group in groups:
                if group not in known_groups:
                    inventory.add_group(group)
                    known_groups.add(group)
                inventory.add_child(group, name)
            if constructed:
                # Jinja costs about 1 ms per expression and host: only for what the user adds.
                self._set_composite_vars(compose, hostvars, name, strict=strict)
                self._add_host_to_composed_groups(composed_groups, hostvars, name, strict=strict)
                self._add_host_to_keyed_groups(keyed_groups, hostvars, name, strict=strict)
