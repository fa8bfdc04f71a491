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
  - Server data is untrusted. A host is never named C(localhost) or any other loopback name or address, nor
    like a group (C(all), C(ungrouped), a default group, or one made by O(keyed_groups) or O(groups)). Such a
    value is passed over with a warning for the next of O(hostnames), or the session id. A session without a
    usable SessionID is left out, and a field that is not what it should be is taken as empty, with a warning
    naming the session and the field.
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
  hash_lookalikes:
    description:
      - Company, site and tag values that differ only in case, accents or punctuation (C(Müller GmbH) and
        C(Muller-GmbH), C(A&B) and C(A B)) make one default group name. The plugin warns, naming the values.
      - V(true) gives each such value a group of its own, the name followed by C(_) and the first 6 hex digits
        of the SHA-256 of the value (C(company_muller_gmbh_1a2b3c)), so that C(--limit) reaches one customer.
        Names of values that clash with no other stay as they are.
      - Another way is O(keyed_groups) on C(screenconnect_company) with O(keyed_group_names=core), whose names
        keep case and accents.
    type: bool
    default: false
  keyed_group_names:
    description:
      - How names made by O(keyed_groups) (and their C(parent_group)) are made safe.
      - V(plugin) applies the rule of the default groups (lower case, no accents, one C(_) per run of other
        characters), so a key on C(screenconnect_company) with prefix C(company) gives the same
        C(company_o_reilly_sons) as the default group.
      - V(core) keeps ansible-core's rule (C(company_O_Reilly___Sons)). Names of O(groups) always follow
        ansible-core's rule, as written.
    type: str
    choices: [plugin, core]
    default: plugin
  use_connection_plugin:
    description:
      - V(true) sets the hostvar C(ansible_connection) of every host to C(msp.screenconnect.screenconnect), so
        that tasks on these hosts run through the agent's backstage commands (the connection plugin of this
        collection, which finds the session by the hostvar C(screenconnect_session_id)). No SSH, WinRM or
        network path to the guest is needed.
      - A O(compose) entry for C(ansible_connection) still wins, host by host.
      - V(false) sets no C(ansible_connection); hosts use whatever the play or inventory says (SSH by default).
    type: bool
    default: false
    version_added: 0.2.0
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
import ipaddress
import json
import os
import re
import socket
import unicodedata

from ansible.errors import AnsibleError, AnsibleParserError
from ansible.inventory.data import InventoryData
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
_LOOPBACK_NAMES = frozenset(('localhost', 'localhost.localdomain', 'localhost4', 'localhost4.localdomain4', 'localhost6',
                             'localhost6.localdomain6', 'ip6-localhost', 'ip6-loopback'))
_ADDRESS_LIKE = re.compile(r'^[0-9a-fx:.]+$')
# Groups ansible-core always has and the plugin's own, whether this fleet fills them or not.
RESERVED_GROUPS = frozenset(('all', 'ungrouped', 'screenconnect_online', 'screenconnect_offline',
                             'os_windows', 'os_linux', 'os_macos'))
_FILE_NAME = re.compile(r'(^|[./])screenconnect\.ya?ml$')
# The connection plugin of this collection (use_connection_plugin).
CONNECTION_PLUGIN = 'msp.screenconnect.screenconnect'


def safe_group_name(value):
    """'Café Müller (EU)' -> 'cafe_muller_eu': lower case, accents dropped, every run of other
    characters (underscores included) one _, none at either end, so a limit is easy to type."""
    text = unicodedata.normalize('NFKD', value.lower())
    text = ''.join(char for char in text if not unicodedata.combining(char))
    return _UNSAFE_GROUP_CHARS.sub('_', text).strip('_')


def may_be_template(text):
    """Whether Jinja could find a template in `text`: braces, or a #jinja2: delimiter override."""
    return '{' in text or '}' in text or text.startswith('#jinja2:')


def is_loopback_name(name):
    """Whether `name` reaches this controller: localhost in any spelling, 127.x.y.z in any form
    inet_aton takes (127.1, 2130706433), ::1, ::ffff:127.0.0.1, 0.0.0.0 and ::. ansible-core
    runs `delegate_to: localhost` on an inventory host of that name, over SSH, with the task's
    arguments (secrets included)."""
    text = name.strip().lower().rstrip('.')
    if text.startswith('[') and text.endswith(']'):
        text = text[1:-1]
    text = text.partition('%')[0]  # an IPv6 zone: fe80::1%eth0
    if text in _LOOPBACK_NAMES or text.endswith('.localhost'):
        return True
    if not _ADDRESS_LIKE.match(text):  # most names: no need to try them as addresses
        return False
    try:
        address = ipaddress.ip_address(text)
    except ValueError:
        try:  # the legacy forms ssh and getaddrinfo still take
            packed = socket.inet_aton(text)
        except (OSError, ValueError):
            return False
        return packed[0] in (0, 127)
    mapped = getattr(address, 'ipv4_mapped', None)
    return address.is_loopback or address.is_unspecified or bool(mapped and (mapped.is_loopback or mapped.is_unspecified))


def host_name(session, keys, skipped=None, reserved=()):
    """The first non-empty of `keys` that is no template, no loopback name and no name in
    `reserved` (group names); `skipped` collects (key, value, why) passed over."""
    for key in keys:
        value = session.get(key) if key in ('name', 'session_id') else session['guest'].get(key)
        if not value:
            continue
        why = ('holds template markers' if may_be_template(value) else 'is a loopback name' if is_loopback_name(value)
               else 'is the name of a group' if value in reserved else None)
        if why is None:
            return value
        if skipped is not None:
            skipped.append((key, value, why))
    return session['session_id']


def pick_hosts(sessions, keys, duplicates, warn=None, reserved=()):
    """[(host name, session)] with duplicates of one name resolved by last_seen. A host name is
    plain text everywhere it goes (AWX included), never reaches the controller and is never a
    group's name: a value that could be a template, is a loopback name or is in `reserved` is
    passed over for the next of `keys`, and `warn` hears of it."""
    by_name = {}
    for session in sessions:
        skipped = []
        name = host_name(session, keys, skipped, reserved)
        if skipped and warn:
            warn('session %s: %s; its host name is %s' % (session['session_id'], ', '.join(
                '%s %r %s' % item for item in skipped), name))
        by_name.setdefault(name, []).append(session)
    hosts = []
    taken = set(by_name) | set(reserved)
    for name, group in by_name.items():
        # Newest first; never-seen sessions ('' sorts before any time) last.
        group.sort(key=lambda session: session['last_seen'] or '', reverse=True)
        hosts.append((name, group[0]))
        if duplicates == 'all':
            for session in group[1:]:
                suffixed = '%s_%s' % (name, session['session_id'][:8])
                # A guest may have named itself like another's suffixed name: the id is unique.
                suffixed = session['session_id'] if suffixed in taken else suffixed
                taken.add(suffixed)
                hosts.append((suffixed, session))
    return hosts


def _property_groups(name, value, tag_separator, sources):
    """Group names of one property value; `sources` (group name -> set of values) hears which
    value made each name, so that lookalike values can be told."""
    values = value.split(tag_separator) if name == 'tag' and tag_separator else [value]
    groups = []
    for item in values:
        safe = safe_group_name(item)
        if safe:
            group = '%s_%s' % (name, safe)
            groups.append(group)
            sources.setdefault(group, set()).add(item.strip())
    return groups


def _hashed(group, value):
    return '%s_%s' % (group, hashlib.sha256(value.encode('utf-8', 'surrogatepass')).hexdigest()[:6])


class GroupNamer:
    """Default group names of sessions. A fleet has few distinct companies, sites and tags, and
    making a name safe is the costly part, so each distinct value is worked out once.

    Values that look alike ("Müller GmbH", "Muller-GmbH") make one name; `lookalikes()` tells
    them, and with `hash_lookalikes` each such value gets a group of its own (a short hash of
    the value after the name)."""

    def __init__(self, group_by, tag_separator, hash_lookalikes=False):
        self.group_by = group_by
        self.tag_separator = tag_separator
        self.hash_lookalikes = hash_lookalikes
        self._memo = {}
        self._sources = {}

    def property_groups(self, session):
        groups = []
        properties = session['properties']
        for name in self.group_by:
            value = properties.get(name, '')
            names = self._memo.get((name, value))
            if names is None:
                names = self._memo[(name, value)] = _property_groups(name, value, self.tag_separator, self._sources)
            groups.extend(names)
        return groups

    def lookalikes(self):
        """{group name: sorted values} of the names more than one value made."""
        return dict((group, sorted(values)) for group, values in self._sources.items() if len(values) > 1)

    def separate(self, lookalikes):
        """With hash_lookalikes: the memo's names of lookalike values get their hash."""
        if not (self.hash_lookalikes and lookalikes):
            return
        for (name, value), names in self._memo.items():
            items = value.split(self.tag_separator) if name == 'tag' and self.tag_separator else [value]
            # `names` holds one name per item that has a safe name, in order.
            items = [item for item in items if safe_group_name(item)]
            if any(group in lookalikes for group in names):
                self._memo[(name, value)] = [_hashed(group, item.strip()) if group in lookalikes else group
                                             for group, item in zip(names, items)]


def default_groups(session, group_by, tag_separator, memo=None):
    """The default groups of one session (`memo`: a GroupNamer to reuse across sessions)."""
    namer = memo if isinstance(memo, GroupNamer) else GroupNamer(group_by, tag_separator)
    return namer.property_groups(session) + _state_groups(session)


def _state_groups(session):
    groups = ['screenconnect_online' if session['online'] else 'screenconnect_offline']
    family = session['guest']['os_family']
    if family != 'unknown':
        groups.append('os_%s' % family)
    return groups


def build_hosts(raw_sessions, api, property_names, hostnames, duplicates, group_by, tag_separator, warn=None,
                hash_lookalikes=False, normalized=False):
    """[(host name, hostvars, default groups)] of a server answer (or, with `normalized`, of
    normalize_sessions' sessions): all but the Jinja, in one pass."""
    warn = warn or (lambda text: None)
    warnings = []
    if not normalized:
        raw_sessions = _sessions.normalize_sessions(raw_sessions, api, property_names, warnings)
    sessions = [session for session in raw_sessions if not session['is_ended']]
    for text in warnings:
        warn(text)
    namer = GroupNamer(group_by, tag_separator, hash_lookalikes)
    for session in sessions:
        namer.property_groups(session)
    lookalikes = namer.lookalikes()
    for group, values in sorted(lookalikes.items()):
        warn('group %s holds sessions of different values: %s; %s' % (
            group, ', '.join(repr(value) for value in values),
            'each has a group of its own (hash_lookalikes)' if hash_lookalikes
            else 'set hash_lookalikes: true to give each a group of its own'))
    namer.separate(lookalikes)
    # A host never takes a group's name: "can't add group to itself", or worse, a limit that reaches it.
    reserved = set(RESERVED_GROUPS)
    groups_of = {}
    for session in sessions:
        groups = groups_of[session['session_id']] = namer.property_groups(session) + _state_groups(session)
        reserved.update(groups)
    hosts = []
    for name, session in pick_hosts(sessions, hostnames, duplicates, warn, reserved):
        hostvars = dict(('screenconnect_%s' % key, value) for key, value in session.items())
        for prop, value in session['properties'].items():
            hostvars['screenconnect_%s' % prop] = value
        hosts.append((name, hostvars, groups_of[session['session_id']]))
    return hosts


def _tags_of(value):
    from ansible.module_utils._internal._datatag import AnsibleTagHelper
    return list(AnsibleTagHelper.tags(value))


def _tagged_instance(tagged_type, value, mapping):
    instance = tagged_type(value)
    instance._ansible_tags_mapping = mapping
    return instance


def tagger(tags):
    """A function (value, its type) -> a copy of value with `tags`, as AnsibleTagHelper.tag(value,
    tags) makes it (2.19+). That one works out the tagged type and a new tags mapping per call, a
    third of the plugin's marking at 10k hosts; this makes the tagged type's instance directly and
    gives it one shared mapping (ansible-core never changes a mapping in place). Checked against
    AnsibleTagHelper.tag when made, on every type it is given here; where they differ (another
    ansible-core), it is AnsibleTagHelper.tag. A dict may come as an iterable of pairs."""
    from ansible.module_utils._internal._datatag import AnsibleTaggedObject, AnsibleTagHelper

    def slow(value, kind):
        return AnsibleTagHelper.tag(kind(value) if kind in (dict, list) else value, tags)

    def shape(value):
        return type(value), value, dict((type(tag), tag) for tag in AnsibleTagHelper.tags(value))

    try:
        mapping = AnsibleTagHelper.tag('probe', tags)._ansible_tags_mapping
        tagged_types = dict((kind, AnsibleTaggedObject._get_tagged_type(kind)) for kind in (str, int, float, dict, list))

        def fast(value, kind):
            return _tagged_instance(tagged_types[kind], value, mapping)

        for sample in ('text', '', 7, 0, 1.5, {'a': 'b'}, {}, ['c'], []):
            made, expected = fast(sample, sample.__class__), AnsibleTagHelper.tag(sample, tags)
            if shape(made) != shape(expected):
                return slow
    except Exception:  # pylint: disable=broad-except  # any other ansible-core: its own way
        return slow
    return fast


class TextMarker:
    """Marks the strings of hostvars for ansible-core (see MARK_TRUSTED): a copy of the value
    with each string marked. A fleet repeats its companies, OS names and versions, so each
    distinct string is marked once and the marked object reused.

    `origin`: on 2.19+, the Origin tag ansible-core's inventory wrapper puts on every value that
    has none. A trusted string given to it without one is copied and tagged again, per value; one
    that already carries it is stored as it is. Tagging each distinct string once here saves that
    (10k hosts on 2.21: about 0.8 s of 6 s, and a third of the memory). Numbers and containers get
    the Origin too (numbers once per distinct value), so the value is exactly what the wrapper's
    visitor would make of it, and add_hosts() may hand it to the inventory without the visitor's
    second walk and copy (`complete`)."""

    def __init__(self, trusted=MARK_TRUSTED, unsafe=MARK_UNSAFE, origin=None):
        self._mark = trust_as_template if trusted else None
        self._unsafe = wrap_var if unsafe and not trusted else None
        self._origin = origin if trusted else None
        self._memo = {}
        self._numbers = {}
        # Every value tagged as ansible-core's wrapper would tag it (see add_hosts).
        self.complete = self._origin is not None
        if self.complete:
            self._trusted = tagger(_tags_of(trust_as_template('text')) + [origin])
            self._tag = tagger([origin])

    def _text(self, text):
        marked = self._memo.get(text)
        if marked is None:
            if self.complete:
                marked = self._tag(text, str) if may_be_template(text) else self._trusted(text, str)
            elif may_be_template(text):
                marked = self._unsafe(text) if self._unsafe else text  # 2.19+ distrusts it anyway
            else:
                marked = self._mark(text) if self._mark else text
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
            items = ((key, self(item)) for key, item in value.items())
            return self._tag(items, dict) if self.complete else dict(items)
        if kind is list:
            items = [self(item) for item in value]
            return self._tag(items, list) if self.complete else items
        if not self.complete or kind not in (int, float):  # booleans and None take no tag
            return value
        # Numbers: the normalizer makes every other value a plain str, dict or list. 1 and 1.0
        # are one dict key, so the type is part of it.
        marked = self._numbers.get((kind, value))
        if marked is None:
            marked = self._numbers[(kind, value)] = self._tag(value, kind)
        return marked

    @property
    def active(self):
        return self._mark is not None or self._unsafe is not None

    @property
    def origin(self):
        return self._origin


def _storage(inventory, marker):
    """Where hostvars go. ansible-core 2.19+ hands plugins a wrapper whose set_variable walks and
    copies every value again to trust and tag it (10k hosts: about a third of the plugin's time).
    A value the marker made `complete` is already what that walk would give, so it goes to the
    InventoryData behind the wrapper; anything else, and any other inventory, through the wrapper."""
    wrapped = getattr(inventory, '__wrapped__', None)
    if marker is not None and marker.complete and isinstance(wrapped, InventoryData) \
            and getattr(inventory, '_default_origin', None) is marker.origin:
        return wrapped
    return inventory


def add_hosts(inventory, hosts, storage=None, constructed=None):
    """Adds [(host name, hostvars, groups)] to `inventory`, each group once. `storage`: where
    the hostvars go (_storage). `constructed`: {host name: (composed vars, [(parent, child)])}
    of compose and keyed_groups, added after the host; Jinja made them, so they go through
    ansible-core's own checks and marking."""
    storage = inventory if storage is None else storage
    known_groups = set()
    for name, hostvars, groups in hosts:
        inventory.add_host(name)
        for var, value in hostvars.items():
            storage.set_variable(name, var, value)
        for group in groups:
            if group not in known_groups:
                inventory.add_group(group)
                known_groups.add(group)
            inventory.add_child(group, name)
        if constructed and name in constructed:
            composed_vars, parents = constructed[name]
            for var, value in composed_vars.items():
                inventory.set_variable(name, var, value)
            for parent, child in parents:
                for group in (parent, child):
                    if group not in known_groups:
                        inventory.add_group(group)
                        known_groups.add(group)
                inventory.add_child(parent, child)


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
        shown = set()
        hosts = build_hosts(raw, self.get_option('api'), self.get_option('property_names'),
                            self.get_option('hostnames'), self.get_option('duplicates'),
                            self.get_option('group_by'), self.get_option('tag_separator'),
                            warn=lambda text: self._warn(text, shown), hash_lookalikes=self.get_option('hash_lookalikes'))
        if self.get_option('use_connection_plugin'):
            for _name, hostvars, _groups in hosts:
                hostvars['ansible_connection'] = CONNECTION_PLUGIN
        # Without a cache nothing else holds the raw answer (50k sessions: hundreds of MB of
        # objects): let it go before ansible-core gets the hosts; measured 0.9 s less at 50k.
        raw = None
        self._populate(hosts, warn=lambda text: self._warn(text, shown))

    def _warn(self, text, shown):
        if text not in shown:  # once each
            shown.add(text)
            self.display.warning('msp.screenconnect.screenconnect: %s' % text)

    # Set while keyed_groups are worked out: their names follow keyed_group_names.
    _keyed = False

    def _sanitize_group_name(self, name):
        """keyed_groups names by the rule of the default groups (keyed_group_names: plugin), so
        a key on screenconnect_company with prefix company names the group company_<company> does;
        groups (user-written names) and keyed_group_names: core keep ansible-core's rule."""
        if self._keyed and self.get_option('keyed_group_names') == 'plugin':
            safe = safe_group_name(to_text(name))
            if safe:
                return safe
        return super(InventoryModule, self)._sanitize_group_name(name)

    def _populate(self, hosts, warn=None):
        inventory = self.inventory
        strict = self.get_option('strict')
        compose = self.get_option('compose')
        composed_groups = self.get_option('groups')
        keyed_groups = self.get_option('keyed_groups')
        # The wrapper ansible-core 2.19+ hands plugins keeps its Origin here; older cores, none.
        # Marked before any Jinja sees them: on older cores a company named {{ ... }} stays text.
        mark = TextMarker(origin=getattr(inventory, '_default_origin', None))
        if mark.active:
            # In place: each host's unmarked hostvars go as its marked ones come (100k hosts: less memory at the peak).
            for index, (name, hostvars, groups) in enumerate(hosts):
                hosts[index] = (name, mark(hostvars), groups)
        constructed = {}
        if compose or composed_groups or keyed_groups:
            hosts, constructed = self._construct(hosts, compose, composed_groups, keyed_groups, strict, warn)
        add_hosts(inventory, hosts, _storage(inventory, mark), constructed)

    def _construct(self, hosts, compose, composed_groups, keyed_groups, strict, warn):
        """compose, groups and keyed_groups of every host, worked out before any host is added
        (Jinja once per expression and host, as ever, each expression compiled once: see
        compiled_once). Then no host takes the name of a group they make: such a host is named by
        its session id. Returns the hosts with their constructed groups added, and
        {host name: (composed vars, [(parent group, child group)])}."""
        recorder = _GroupRecorder()
        real, self.inventory = self.inventory, recorder
        worked = []
        undo = compiled_once(getattr(self, 'templar', None))
        try:
            for name, hostvars, groups in hosts:
                recorder.start(name, hostvars, groups)
                self._set_composite_vars(compose, hostvars, name, strict=strict)
                recorder.composing = True
                self._add_host_to_composed_groups(composed_groups, hostvars, name, strict=strict)
                recorder.composing, self._keyed = False, True
                try:
                    self._add_host_to_keyed_groups(keyed_groups, hostvars, name, strict=strict)
                finally:
                    self._keyed = False
                worked.append((name, hostvars, groups, recorder.composed_vars, recorder.groups, recorder.parents))
        finally:
            self.inventory = real
            undo()
        group_names = set(recorder.all_groups)
        result = []
        constructed = {}
        for name, hostvars, groups, composed_vars, made, parents in worked:
            if name in group_names:
                renamed = str(hostvars['screenconnect_session_id'])  # plain text, not the marked hostvar
                if warn:
                    warn('session %s: host name %r is the name of a group of keyed_groups or groups; its host name is %s'
                         % (renamed, name, renamed))
                name = renamed
            result.append((name, hostvars, groups + [group for group in made if group not in groups]))
            constructed[name] = (composed_vars, parents)
        return result, constructed


def compiled_once(templar):
    """ansible-core 2.19+ compiles a compose, groups or keyed_groups expression again for every
    host it evaluates it for (Jinja's parser, code generator and Python's compile(): at 10k hosts
    on 2.21, 0.23 ms of the 0.33 ms one expression costs per host). The compiled expression
    depends on the expression, its options and the templar's Jinja environment, never on the
    host's variables: while the hosts are worked out, each is compiled once and kept. Returns
    the function that puts the templar back. Older cores, or a templar without that step: nothing
    changes."""
    engine = getattr(templar, '_engine', None)
    compile_expression = getattr(engine, '_compile_expression', None)
    own = getattr(engine, '__dict__', None)
    # Only where that step is the engine's method, and the engine can take an attribute of its own.
    if not MARK_TRUSTED or compile_expression is None or own is None or '_compile_expression' in own:
        return lambda: None
    compiled = {}

    def once(expression, options):
        try:
            key = (id(expression), expression, options, id(engine.environment))
            hit = compiled.get(key)
        except TypeError:  # something unhashable: as ansible-core does it
            return compile_expression(expression, options)
        if hit is None:
            hit = compiled[key] = compile_expression(expression, options)
        return hit

    engine._compile_expression = once

    def undo():
        own.pop('_compile_expression', None)
    return undo


class _GroupRecorder:
    """Stands in for the inventory while ansible-core's constructed helpers work out one host:
    keeps the variables they compose and the groups they make, and adds nothing."""

    def __init__(self):
        self.all_groups = set()
        self.composing = False

    def start(self, name, hostvars, groups):
        self.composed_vars = {}
        self.groups = []
        self.parents = []
        # What a host's get_vars() adds: its magic variables.
        self._vars = dict(hostvars, inventory_hostname=name, inventory_hostname_short=name.split('.')[0],
                          group_names=sorted(set(groups)))

    # ---- the part of the inventory the constructed helpers use --------------------------------
    def set_variable(self, host, var, value):
        self.composed_vars[var] = value
        self._vars[var] = value

    def get_host(self, host):
        return self

    def get_vars(self):
        return self._vars

    def add_group(self, group):
        self.all_groups.add(group)
        return group

    def add_host(self, host, group=None, port=None):
        if group:
            self.groups.append(group)

    def add_child(self, parent, child):
        if self.composing:  # groups: the host joins `parent`
            self.groups.append(parent)
        else:  # keyed_groups' parent_group: `child` is a group
            self.parents.append((parent, child))
