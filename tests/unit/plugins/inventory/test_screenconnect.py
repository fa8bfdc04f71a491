"""Grouping and naming rules of the inventory plugin."""

import pytest

from ansible_collections.msp.screenconnect.plugins.inventory import screenconnect as plugin


def session(session_id, name='', machine='', last_seen=None, company='', site='', tag='', online=False, os='windows'):
    return {
        'session_id': session_id, 'name': name, 'last_seen': last_seen, 'online': online,
        'properties': {'company': company, 'site': site, 'tag': tag},
        'guest': {'machine_name': machine, 'os_family': os, 'serial_number': '', 'private_ip': ''},
    }


@pytest.mark.parametrize('value,expected', [
    ("O'Reilly & Sons", 'o_reilly_sons'), ('Café Müller', 'cafe_muller'), ('Branch 1', 'branch_1'),
    ('{{ lookup("pipe","id") }} Ltd', 'lookup_pipe_id_ltd'), (' web ', 'web'), ('Umbrella (EU)', 'umbrella_eu'),
    ('__web__prod__', 'web_prod'), ('site_a', 'site_a'), ('&&', ''), ('', ''),
])
def test_safe_group_name(value, expected):
    assert plugin.safe_group_name(value) == expected


def test_host_name_falls_back_for_blank_names():
    assert plugin.host_name(session('abc', name='WS-1', machine='M'), ['name', 'machine_name', 'session_id']) == 'WS-1'
    assert plugin.host_name(session('abc', machine='M'), ['name', 'machine_name', 'session_id']) == 'M'
    assert plugin.host_name(session('abc'), ['name', 'machine_name', 'session_id']) == 'abc'
    assert plugin.host_name(session('abc', name='WS-1', machine='M'), ['machine_name']) == 'M'


def test_duplicates_newest_and_all():
    old = session('11111111-aaaa', name='WS-1', last_seen='2026-01-01T00:00:00Z')
    new = session('22222222-bbbb', name='WS-1', last_seen='2026-06-01T00:00:00Z')
    never = session('33333333-cccc', name='WS-1', last_seen=None)
    keys = ['name']
    assert plugin.pick_hosts([old, never, new], keys, 'newest') == [('WS-1', new)]
    assert plugin.pick_hosts([old, never, new], keys, 'all') == [
        ('WS-1', new), ('WS-1_11111111', old), ('WS-1_33333333', never)]


def test_default_groups():
    host = session('x', company="O'Reilly & Sons", site='Branch 1', tag='web, prod,', online=True, os='linux')
    assert plugin.default_groups(host, ['company', 'site', 'tag'], ',') == [
        'company_o_reilly_sons', 'site_branch_1', 'tag_web', 'tag_prod', 'screenconnect_online', 'os_linux']
    assert plugin.default_groups(host, ['tag'], '') == ['tag_web_prod', 'screenconnect_online', 'os_linux']
    empty = session('y', os='unknown')
    assert plugin.default_groups(empty, ['company', 'site', 'tag'], ',') == ['screenconnect_offline']


@pytest.mark.parametrize('path,ok', [
    ('/inv/screenconnect.yml', True), ('/inv/screenconnect.yaml', True), ('/inv/acme.screenconnect.yml', True),
    ('/inv/acme_screenconnect.yml', False), ('/inv/screenconnect.json', False), ('/inv/hosts', False),
    (None, False),
])
def test_verify_file_never_raises(tmp_path, path, ok):
    module = plugin.InventoryModule()
    if path:
        real = tmp_path / path.split('/')[-1]
        real.write_text('plugin: msp.screenconnect.screenconnect\n')
        path = str(real)
    assert module.verify_file(path) is ok


def raw_session(session_id, name, company='', ended=False, seen='2026-07-01T10:00:00.1234567Z'):
    return {'SessionID': session_id, 'SessionType': 2, 'Name': name, 'IsEnded': ended,
            'CustomPropertyValues': [company, 'HQ', 'web,prod', '', '', '', '', ''], 'GuestInfoUpdateTime': seen,
            'GuestInfo': {'MachineName': name or 'M-1', 'OperatingSystemName': 'Ubuntu 22.04.4 LTS'},
            'ActiveConnections': [{'ProcessType': 2}]}


def test_build_hosts_one_pass():
    raw = [raw_session('11111111-0000-0000-0000-000000000001', 'WS-1', company="O'Reilly & Sons"),
           raw_session('11111111-0000-0000-0000-000000000002', '', ended=True),
           raw_session('11111111-0000-0000-0000-000000000003', ''),
           {'no': 'session id'}, 'not even a dict']
    hosts = plugin.build_hosts(raw, 'rest', {'company': 1, 'site': 2, 'tag': 3}, ['name', 'machine_name', 'session_id'],
                               'newest', ['company', 'site', 'tag'], ',')
    assert [name for name, _hostvars, _groups in hosts] == ['WS-1', 'M-1']
    name, hostvars, groups = hosts[0]
    assert hostvars['screenconnect_company'] == "O'Reilly & Sons" and hostvars['screenconnect_site'] == 'HQ'
    assert hostvars['screenconnect_guest']['os_family'] == 'linux' and hostvars['screenconnect_online'] is True
    assert hostvars['screenconnect_last_seen'] == '2026-07-01T10:00:00Z'
    assert groups == ['company_o_reilly_sons', 'site_hq', 'tag_web', 'tag_prod', 'screenconnect_online', 'os_linux']
    assert hosts[1][2] == ['site_hq', 'tag_web', 'tag_prod', 'screenconnect_online', 'os_linux']


@pytest.mark.parametrize('path', [b'/inv/screenconnect.yml', 12, '/does/not/exist/screenconnect.yml', '/'])
def test_verify_file_odd_input(path):
    assert plugin.InventoryModule().verify_file(path) is False


def test_verify_file_directory_named_like_a_config(tmp_path):
    directory = tmp_path / 'screenconnect.yml'
    directory.mkdir()
    assert plugin.InventoryModule().verify_file(str(directory)) is False


@pytest.mark.parametrize('text,template', [
    ('WS-1', False), ("O'Reilly & Sons", False), ('', False), ('{{ x }}', True), ('a}b', True), ('{%', True),
    ('#jinja2: variable_start_string: "[["', True), ('note #jinja2:', False),
])
def test_may_be_template(text, template):
    assert plugin.may_be_template(text) is template


def test_host_name_passes_over_template_markers():
    warnings = []
    marked = session('22222222-0000-0000-0000-000000000001', name="{{ lookup('pipe', 'id') }}", machine='M-{1}')
    plain = session('22222222-0000-0000-0000-000000000002', name='WS-2')
    hosts = plugin.pick_hosts([marked, plain], ['name', 'machine_name', 'session_id'], 'newest', warnings.append)
    assert hosts == [('22222222-0000-0000-0000-000000000001', marked), ('WS-2', plain)]
    assert len(warnings) == 1 and 'name "{{ lookup(\'pipe\', \'id\') }}" holds template markers' in warnings[0]
    assert "machine_name 'M-{1}'" in warnings[0] and warnings[0].endswith('host name is %s' % hosts[0][0])


def test_build_hosts_drops_a_session_id_with_template_markers():
    raw = [raw_session('{{ 7 * 7 }}', 'WS-1'), raw_session('11111111-0000-0000-0000-000000000001', 'WS-2')]
    hosts = plugin.build_hosts(raw, 'rest', {'company': 1}, ['session_id'], 'newest', ['company'], ',')
    assert [name for name, _hostvars, _groups in hosts] == ['11111111-0000-0000-0000-000000000001']


def is_trusted(value):
    from ansible.template import is_trusted_as_template
    return is_trusted_as_template(value)


def is_unsafe(value):
    from ansible.utils.unsafe_proxy import AnsibleUnsafe
    return isinstance(value, AnsibleUnsafe)


def test_marker_on_this_core():
    """2.19+: plain text trusted (written plain by --export), template text left untrusted;
    older cores: only template text unsafe. Either way the containers are copied, not changed."""
    hostvars = {'name': 'WS-1', 'tag': '{{ x }}', 'guest': {'os': 'Ubuntu', 'cpus': 4},
                'custom': ['Acme', '#jinja2:x', ''], 'online': True, 'seen': None}
    marked = plugin.TextMarker()(hostvars)
    assert marked == hostvars and marked['guest'] is not hostvars['guest'] and not is_unsafe(hostvars['tag'])
    assert marked['online'] is True and marked['seen'] is None and marked['guest']['cpus'] == 4
    plain = [marked['name'], marked['guest']['os'], marked['custom'][0], marked['custom'][2]]
    templates = [marked['tag'], marked['custom'][1]]
    if plugin.MARK_TRUSTED:
        assert all(is_trusted(text) for text in plain) and not any(is_trusted(text) for text in templates)
    else:
        assert plugin.MARK_UNSAFE
        assert all(is_unsafe(text) for text in templates) and not any(is_unsafe(text) for text in plain)


def test_marker_marks_each_distinct_text_once():
    calls = []
    marker = plugin.TextMarker(trusted=False, unsafe=True)
    marker._unsafe = lambda text: calls.append(text) or text
    marker({'a': '{x}', 'b': ['{x}', '{x}'], 'c': {'d': '{x}'}})
    assert calls == ['{x}']


def test_populate_hands_ansible_core_text_it_need_not_tag_again():
    """2.19+: ansible-core's inventory wrapper tags every value it is given with the source's
    Origin unless the value has one. The plugin's text arrives trusted and with that Origin, each
    distinct string one object: the wrapper stores it as it is, nothing is copied per host."""
    if not plugin.MARK_TRUSTED:
        pytest.skip('ansible-core < 2.19 has no trust or Origin tags')
    from ansible._internal._datatag._tags import Origin
    from ansible.inventory.data import InventoryData
    from ansible.inventory.manager import _InventoryDataWrapper

    module = plugin.InventoryModule()
    module._options = {'strict': False, 'compose': {}, 'groups': {}, 'keyed_groups': []}
    origin = Origin(description='<inventory plugin under test>')
    data = InventoryData()
    module.inventory = _InventoryDataWrapper(data, target_plugin=module, origin=origin)
    raw = [raw_session('11111111-0000-0000-0000-00000000000%d' % index, 'WS-%d' % index, company='Acme')
           for index in (1, 2)] + [raw_session('11111111-0000-0000-0000-000000000003', '{{ 7 * 7 }}', company='Acme')]
    module._populate(plugin.build_hosts(raw, 'rest', {'company': 1}, ['name', 'session_id'], 'newest', ['company'], ','))

    first, second = data.get_host('WS-1').vars, data.get_host('WS-2').vars
    assert first['screenconnect_company'] == 'Acme' and first['screenconnect_company'] is second['screenconnect_company']
    for value in (first['screenconnect_company'], first['screenconnect_guest']['os_name'], first['screenconnect_custom_properties'][7]):
        assert is_trusted(value) and Origin.get_tag(value) is origin
    template = data.get_host('11111111-0000-0000-0000-000000000003').vars['screenconnect_name']
    assert template == '{{ 7 * 7 }}' and not is_trusted(template) and Origin.get_tag(template) is origin


def tagged_shape(value):
    """A value as ansible-core stores it: its type, its tags and the same of every item, nested."""
    from ansible.module_utils._internal._datatag import AnsibleTagHelper
    tags = sorted(repr(tag) for tag in AnsibleTagHelper.tags(value))
    if isinstance(value, dict):
        return (type(value).__name__, tags, dict((key, tagged_shape(item)) for key, item in value.items()))
    if isinstance(value, list):
        return (type(value).__name__, tags, [tagged_shape(item) for item in value])
    return (type(value).__name__, tags, value)


def test_marked_hostvars_are_exactly_what_the_wrapper_would_store():
    """2.19+: what add_hosts hands InventoryData past the wrapper is, value by value, nested, the
    same type with the same tags as the wrapper's own visitor makes of the plugin's marked value,
    so skipping that walk changes nothing ansible-core keeps."""
    if not plugin.MARK_TRUSTED:
        pytest.skip('ansible-core < 2.19 has no inventory wrapper')
    from ansible._internal._datatag._tags import Origin
    from ansible.inventory.data import InventoryData
    from ansible.inventory.manager import _InventoryDataWrapper

    origin = Origin(description='<inventory plugin under test>')
    wrapper = _InventoryDataWrapper(InventoryData(), target_plugin=plugin.InventoryModule(), origin=origin)
    marker = plugin.TextMarker(origin=origin)
    hostvars = {'name': 'WS-1', 'empty': '', 'tag': '{{ x }}', 'online': True, 'seen': None, 'ratio': 1.5,
                'guest': {'os': 'Ubuntu', 'cpus': 4, 'memory': 16384, 'zero': 0, 'nested': {'deep': ['#jinja2:x', 7]}},
                'custom': ['Acme', '', '}'], 'none': [], 'nothing': {}}
    for _pass in (1, 2):  # the second from the memo
        marked = marker(hostvars)
        assert marker.complete and plugin._storage(wrapper, marker) is wrapper.__wrapped__
        for key, value in marked.items():
            assert tagged_shape(value) == tagged_shape(wrapper._inspector.visit(value)), key
            assert tagged_shape(value) == tagged_shape(wrapper._inspector.visit(plugin.TextMarker(origin=origin)(hostvars[key]))), key
    # Another Origin, a marker without one or an inventory that is no wrapper: through set_variable.
    assert plugin._storage(wrapper, plugin.TextMarker(origin=Origin(description='other'))) is wrapper
    assert plugin._storage(wrapper, plugin.TextMarker(trusted=False)) is wrapper
    assert plugin._storage(InventoryData(), marker) is not wrapper.__wrapped__


def test_tagger_is_ansible_cores_tag_or_falls_back_to_it(monkeypatch):
    if not plugin.MARK_TRUSTED:
        pytest.skip('ansible-core < 2.19 has no tags')
    from ansible._internal._datatag._tags import Origin
    from ansible.module_utils._internal._datatag import AnsibleTagHelper

    tags = plugin._tags_of(plugin.trust_as_template('x')) + [Origin(description='here')]
    samples = ['WS-1', '', 12, 2.5, {'a': 'b'}, ['c', 1], {}, []]
    fast = plugin.tagger(tags)
    for sample in samples:
        assert tagged_shape(fast(sample, type(sample))) == tagged_shape(AnsibleTagHelper.tag(sample, tags))
    assert tagged_shape(fast(iter([('a', 'b')]), dict)) == tagged_shape(AnsibleTagHelper.tag({'a': 'b'}, tags))
    # An ansible-core where the direct way makes something else: AnsibleTagHelper.tag itself.
    monkeypatch.setattr(plugin, '_tagged_instance', lambda tagged_type, value, mapping: value)
    slow = plugin.tagger(tags)
    assert slow is not fast
    for sample in samples:
        assert tagged_shape(slow(sample, type(sample))) == tagged_shape(AnsibleTagHelper.tag(sample, tags))


def test_populate_through_the_wrapper_or_past_it_stores_the_same(monkeypatch):
    if not plugin.MARK_TRUSTED:
        pytest.skip('ansible-core < 2.19 has no inventory wrapper')
    from ansible._internal._datatag._tags import Origin
    from ansible.inventory.data import InventoryData
    from ansible.inventory.manager import _InventoryDataWrapper

    raw = [raw_session('11111111-0000-0000-0000-00000000000%d' % index, 'WS-%d' % index, company='Acme')
           for index in (1, 2)] + [raw_session('11111111-0000-0000-0000-000000000003', '{{ 7 * 7 }}', company='{x}')]
    hosts = plugin.build_hosts(raw, 'rest', {'company': 1}, ['name', 'session_id'], 'newest', ['company'], ',')
    origin = Origin(description='<inventory plugin under test>')
    stored = []
    for direct in (True, False):
        module = plugin.InventoryModule()
        module._options = {'strict': False, 'compose': {}, 'groups': {}, 'keyed_groups': []}
        data = InventoryData()
        module.inventory = _InventoryDataWrapper(data, target_plugin=module, origin=origin)
        if not direct:
            monkeypatch.setattr(plugin, '_storage', lambda inventory, marker: inventory)
        module._populate(list(hosts))  # a list of its own: _populate marks it in place
        stored.append(dict((name, tagged_shape(host.vars)) for name, host in data.hosts.items()))
        assert sorted(data.groups) == ['all', 'company_acme', 'company_x', 'os_linux', 'screenconnect_online', 'ungrouped']
    assert stored[0] == stored[1] and len(stored[0]) == 3


# ---- hostile names: loopback, group names, lookalike values ---------------------------------

KEYS = ['name', 'machine_name', 'session_id']
SID = '11111111-0000-0000-0000-0000000000%02d'


@pytest.mark.parametrize('name', [
    'localhost', 'LOCALHOST', 'localhost.', ' localhost ', 'localhost.localdomain', 'ip6-localhost', 'ip6-loopback',
    'localhost6', 'db.localhost', '127.0.0.1', '127.1.2.3', '127.1', '2130706433', '0x7f.1', '::1', '[::1]',
    '0:0:0:0:0:0:0:1', '::ffff:127.0.0.1', '0.0.0.0', '::', '::1%lo',
])
def test_loopback_names(name):
    assert plugin.is_loopback_name(name)


@pytest.mark.parametrize('name', ['WS-1', 'localhost-1', 'mylocalhost', '128.0.0.1', '10.0.0.1', '::2', 'deadbeef', 'cafe',
                                  'localhost.example.com', ''])
def test_not_loopback_names(name):
    assert not plugin.is_loopback_name(name)


def test_a_loopback_name_is_passed_over_with_a_warning():
    warnings = []
    guest = session(SID % 1, name='localhost', machine='web-1')
    worst = session(SID % 2, name='127.0.0.1', machine='LOCALHOST.')
    hosts = plugin.pick_hosts([guest, worst], KEYS, 'newest', warnings.append)
    assert hosts == [('web-1', guest), (SID % 2, worst)]
    assert warnings == ["session %s: name 'localhost' is a loopback name; its host name is web-1" % (SID % 1),
                        "session %s: name '127.0.0.1' is a loopback name, machine_name 'LOCALHOST.' is a loopback name; "
                        "its host name is %s" % (SID % 2, SID % 2)]


def test_duplicates_all_suffix_never_takes_a_name_in_use():
    first = session('22222222-bbbb', name='WS-1', last_seen='2026-06-01T00:00:00Z')
    second = session('11111111-aaaa', name='WS-1', last_seen='2026-01-01T00:00:00Z')
    squatter = session('33333333-cccc', name='WS-1_11111111')
    assert plugin.pick_hosts([first, second, squatter], ['name'], 'all') == [
        ('WS-1', first), ('11111111-aaaa', second), ('WS-1_11111111', squatter)]


def raw_named(index, name, company='Acme', os='Ubuntu 22.04', machine=None):
    raw = raw_session(SID % index, name, company=company)
    raw['GuestInfo'] = {'MachineName': machine if machine is not None else 'M-%d' % index, 'OperatingSystemName': os}
    return raw


def build(raw, warnings, **options):
    arguments = dict(api='rest', property_names={'company': 1, 'site': 2, 'tag': 3}, hostnames=KEYS, duplicates='newest',
                     group_by=['company', 'site', 'tag'], tag_separator=',')
    arguments.update(options)
    return plugin.build_hosts(raw, warn=warnings.append, **arguments)


@pytest.mark.parametrize('name', ['company_acme', 'screenconnect_online', 'screenconnect_offline', 'os_linux', 'os_windows',
                                  'all', 'ungrouped', 'site_hq', 'tag_web'])
def test_a_host_never_takes_a_group_name(name):
    warnings = []
    hosts = build([raw_named(1, name), raw_named(2, 'WS-2')], warnings)
    assert [host for host, _vars, _groups in hosts] == ['M-1', 'WS-2']
    assert warnings == ["session %s: name %r is the name of a group; its host name is M-1" % (SID % 1, name)]


def test_bad_sessions_are_left_out_with_the_modules_warning():
    warnings = []
    raw = [raw_named(1, 'WS-1'), {'Name': 'WS-9'}, dict(raw_named(3, 'WS-3'), GuestInfoUpdateTime=1e20, CustomPropertyValues=5)]
    hosts = build(raw, warnings)
    assert [host for host, _vars, _groups in hosts] == ['WS-1', 'WS-3']
    assert hosts[1][1]['screenconnect_last_seen'] is None and hosts[1][1]['screenconnect_company'] == ''
    expected = []
    from ansible_collections.msp.screenconnect.plugins.module_utils import _sessions
    _sessions.normalize_sessions(raw, 'rest', {'company': 1, 'site': 2, 'tag': 3}, expected)
    assert warnings == expected and len(expected) == 2
    assert warnings[0].startswith("session #1 of the answer (Name 'WS-9') left out: ")
    assert 'GuestInfoUpdateTime 1e+20 is no time in range' in warnings[1] and 'CustomPropertyValues 5 is not a list' in warnings[1]


def test_lookalike_values_are_warned_and_can_be_kept_apart():
    raw = [raw_named(1, 'WS-1', company='Müller GmbH'), raw_named(2, 'WS-2', company='Muller-GmbH'),
           raw_named(3, 'WS-3', company='A&B'), raw_named(4, 'WS-4', company='A B'), raw_named(5, 'WS-5', company='Acme'),
           raw_named(6, 'WS-6', company=' Acme')]
    warnings = []
    hosts = build(raw, warnings)
    assert [groups[0] for _host, _vars, groups in hosts] == ['company_muller_gmbh'] * 2 + ['company_a_b'] * 2 + ['company_acme'] * 2
    assert warnings == [
        "group company_a_b holds sessions of different values: 'A B', 'A&B'; set hash_lookalikes: true to give each a group of its own",
        "group company_muller_gmbh holds sessions of different values: 'Muller-GmbH', 'Müller GmbH'; set hash_lookalikes: true "
        "to give each a group of its own"]
    warnings = []
    hosts = build(raw, warnings, hash_lookalikes=True)
    groups = [groups[0] for _host, _vars, groups in hosts]
    assert groups[0] == plugin._hashed('company_muller_gmbh', 'Müller GmbH') and groups[1] == plugin._hashed('company_muller_gmbh', 'Muller-GmbH')
    assert len(set(groups[:4])) == 4 and all(len(group) == len('company_a_b_') + 6 for group in groups[2:4])
    assert groups[4:] == ['company_acme'] * 2  # no clash, no hash
    assert len(warnings) == 2 and warnings[0].endswith('each has a group of its own (hash_lookalikes)')


def test_lookalike_tags_hash_only_the_clashing_item():
    raw = [raw_named(1, 'WS-1', company=''), raw_named(2, 'WS-2', company='')]
    raw[0]['CustomPropertyValues'][2] = 'web,a&b'
    raw[1]['CustomPropertyValues'][2] = 'web,a b'
    warnings = []
    hosts = build(raw, warnings, hash_lookalikes=True)
    assert hosts[0][2][:3] == ['site_hq', 'tag_web', plugin._hashed('tag_a_b', 'a&b')]
    assert hosts[1][2][:3] == ['site_hq', 'tag_web', plugin._hashed('tag_a_b', 'a b')]


def trusted(value):
    if isinstance(value, dict):
        return dict((key, trusted(item)) for key, item in value.items())
    if isinstance(value, list):
        return [trusted(item) for item in value]
    return plugin.trust_as_template(value) if isinstance(value, str) else value


def populated(hosts, options):
    """ansible-core's own InventoryData filled by _populate, as ansible-inventory would."""
    from ansible.inventory.data import InventoryData
    from ansible.parsing.dataloader import DataLoader
    from ansible.template import Templar
    module = plugin.InventoryModule()
    if plugin.trust_as_template is not None:  # 2.19+: a config file's expressions are trusted; these, by hand
        options = dict((key, trusted(value)) for key, value in options.items())
    module._options = dict({'strict': True, 'compose': {}, 'groups': {}, 'keyed_groups': [], 'leading_separator': True,
                            'keyed_group_names': 'plugin', 'use_extra_vars': False}, **options)
    module.templar = Templar(loader=DataLoader())
    module.inventory = data = InventoryData()
    warnings = []
    module._populate(list(hosts), warn=warnings.append)  # a list of its own: marked in place
    return data, warnings


def test_constructed_groups_never_take_a_hosts_name():
    raw = [raw_named(1, 'kc_acme'), raw_named(2, 'webfarm', company='Other'), raw_named(3, 'WS-3'), raw_named(4, 'sites')]
    hosts = build(raw, [])
    data, warnings = populated(hosts, {
        'compose': {'short': 'screenconnect_name ~ "-x"'},
        'groups': {'webfarm': "'web' in screenconnect_tag", 'linux': "'os_linux' in group_names and inventory_hostname == 'WS-3'"},
        'keyed_groups': [{'key': 'screenconnect_company', 'prefix': 'kc', 'parent_group': 'sites'}]})
    assert sorted(data.hosts) == sorted([SID % 1, SID % 2, 'WS-3', SID % 4])
    assert sorted(host.name for host in data.groups['kc_acme'].get_hosts()) == sorted([SID % 1, 'WS-3', SID % 4])
    assert sorted(host.name for host in data.groups['webfarm'].get_hosts()) == sorted(data.hosts)
    assert sorted(group.name for group in data.groups['sites'].child_groups) == ['kc_acme', 'kc_other']
    assert data.get_host('WS-3').vars['short'] == 'WS-3-x'
    assert [host.name for host in data.groups['linux'].get_hosts()] == ['WS-3']  # magic variables as on a real host
    assert warnings == ["session %s: host name %r is the name of a group of keyed_groups or groups; its host name is %s"
                        % (SID % index, name, SID % index) for index, name in ((1, 'kc_acme'), (2, 'webfarm'), (4, 'sites'))]


def test_keyed_group_names_follow_the_default_groups_rule_or_cores():
    hosts = build([raw_named(1, 'WS-1', company="O'Reilly & Sons")], [])
    keyed = {'keyed_groups': [{'key': 'screenconnect_company', 'prefix': 'company'}, {'key': 'screenconnect_company', 'prefix': ''}]}
    data, _warnings = populated(hosts, keyed)
    assert {'company_o_reilly_sons', 'o_reilly_sons'} <= set(data.groups) and 'company_O_Reilly___Sons' not in data.groups
    data, _warnings = populated(hosts, dict(keyed, keyed_group_names='core'))
    assert {'company_o_reilly_sons', 'company_O_Reilly___Sons', '_O_Reilly___Sons'} <= set(data.groups)


def test_lookalike_tags_in_one_value_each_get_their_own_hash():
    raw = [raw_named(1, 'WS-1', company='')]
    raw[0]['CustomPropertyValues'][2] = 'a&b,,a b'
    warnings = []
    hosts = build(raw, warnings, hash_lookalikes=True)
    assert hosts[0][2][1:3] == [plugin._hashed('tag_a_b', 'a&b'), plugin._hashed('tag_a_b', 'a b')]


CONSTRUCTED = {
    'compose': {'short': 'screenconnect_name ~ "-x"', 'domain': 'screenconnect_guest.domain | default("none")'},
    'groups': {'webfarm': "'web' in screenconnect_tag"},
    'keyed_groups': [{'key': 'screenconnect_company', 'prefix': 'kc', 'parent_group': 'sites'}]}


def inventory_shape(data):
    return (dict((name, tagged_shape(host.vars)) for name, host in data.hosts.items()),
            dict((name, (sorted(host.name for host in group.get_hosts()), sorted(child.name for child in group.child_groups)))
                 for name, group in data.groups.items()))


def test_each_expression_is_compiled_once_and_gives_what_compiling_per_host_gives(monkeypatch):
    raw = [raw_named(index, 'WS-%d' % index, company='Acme %d' % (index % 3)) for index in range(1, 13)]
    hosts = build(raw, [])
    once, _warnings = populated(hosts, CONSTRUCTED)
    if plugin.MARK_TRUSTED:
        from ansible._internal._templating._engine import TemplateEngine
        calls = []
        original = TemplateEngine._compile_expression

        def counted(engine, expression, options):
            calls.append(str(expression))
            return original(engine, expression, options)
        monkeypatch.setattr(TemplateEngine, '_compile_expression', counted)
        populated(hosts, CONSTRUCTED)
        # compose and keyed_groups: each expression once for the 12 hosts. A groups conditional goes
        # through a copy of the engine, compiled per host as ever.
        assert sorted(call for call in calls if 'web' not in call) == [
            'screenconnect_company', 'screenconnect_guest.domain | default("none")', 'screenconnect_name ~ "-x"']
        monkeypatch.setattr(plugin, 'compiled_once', lambda templar: lambda: None)
        calls[:] = []
        per_host, _warnings = populated(hosts, CONSTRUCTED)
        assert len(calls) >= 3 * 12
        assert inventory_shape(per_host) == inventory_shape(once)
    assert once.get_host('WS-5').vars['short'] == 'WS-5-x' and once.get_host('WS-5').vars['domain'] == ''
    assert sorted(group.name for group in once.groups['sites'].child_groups) == ['kc_acme_0', 'kc_acme_1', 'kc_acme_2']


def test_a_broken_expression_fails_alike_when_compiled_once(monkeypatch):
    raw = [raw_named(index, 'WS-%d' % index) for index in (1, 2)]
    hosts = build(raw, [])
    broken = {'compose': {'bad': 'screenconnect_name ~~ "x"'}}
    with pytest.raises(Exception) as once:
        populated(hosts, broken)
    monkeypatch.setattr(plugin, 'compiled_once', lambda templar: lambda: None)
    with pytest.raises(Exception) as per_host:
        populated(hosts, broken)
    assert type(once.value) is type(per_host.value) and str(once.value) == str(per_host.value)
    assert 'Could not set bad for host WS-1' in str(once.value)
    # Not strict: the host just has no such variable, as before.
    data, _warnings = populated(hosts, dict(broken, strict=False))
    assert 'bad' not in data.get_host('WS-1').vars
