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
