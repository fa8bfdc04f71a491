"""The installer_url filter: same URL as the module's shared code, Jinja-friendly inputs, clear errors."""

from urllib.parse import parse_qsl, urlsplit

import pytest

from ansible.errors import AnsibleFilterError

from ansible_collections.msp.screenconnect.plugins.filter.installer_url import FilterModule, installer_url
from ansible_collections.msp.screenconnect.plugins.module_utils import _connection_options, _installer

SERVER = 'https://acme.screenconnect.com'


def query(url):
    return parse_qsl(urlsplit(url).query, keep_blank_values=True)


def test_registered_under_its_name():
    assert FilterModule().filters() == {'installer_url': installer_url}


def test_minimal_url_has_access_guest_name_and_eight_slots():
    url = installer_url(SERVER + '/', 'msi', name='WS-01')
    assert url.startswith(SERVER + '/Bin/ScreenConnect.ClientSetup.msi?')
    assert query(url) == [('e', 'Access'), ('y', 'Guest'), ('t', 'WS-01')] + [('c', '')] * 8


def test_same_url_as_the_shared_module_code():
    values = ["O'Reilly & Sons", 'Branch 1', 'web,prod', 'Rack #12', '', '', '', '']
    expected = _installer.installer_url(SERVER, 'deb', 'srv 01', values, 'access', 'relay.example.net', 8041, 'QUJD+/=')
    got = installer_url(SERVER, 'deb', name='srv 01',
                        properties={'company': "O'Reilly & Sons", 'site': 'Branch 1', 'tag': 'web,prod'},
                        custom_properties={4: 'Rack #12'}, relay_host='relay.example.net', relay_port=8041,
                        public_key='QUJD+/=')
    assert got == expected
    assert '&c=O%27Reilly%20%26%20Sons&c=Branch%201&c=web%2Cprod&c=Rack%20%2312&' in got
    assert got.endswith('&h=relay.example.net&p=8041&k=QUJD%2B%2F%3D')


def test_jinja_shaped_inputs():
    # Jinja hands over ports as strings, unset role variables as None or '', slots as string keys.
    url = installer_url(SERVER, 'rpm', name='', properties={'company': 'Acme', 'site': None, 'tag': ''},
                        custom_properties={'8': 'last'}, relay_host='', relay_port='443', public_key=None)
    pairs = query(url)
    assert ('t', '') in pairs and ('p', '443') in pairs
    assert [value for key, value in pairs if key == 'c'] == ['Acme', '', '', '', '', '', '', 'last']
    assert not [key for key, value in pairs if key in ('h', 'k')]


def test_list_of_slots_and_custom_property_names():
    url = installer_url(SERVER, 'pkg', name='mac', custom_properties=['a', 'b'],
                        properties={'customer': 'Globex'}, property_names={'customer': 5})
    assert [value for key, value in query(url) if key == 'c'] == ['a', 'b', '', '', 'Globex', '', '', '']


def test_non_ascii_is_utf8_encoded():
    url = installer_url(SERVER, 'msi', name='Café', properties={'company': 'Müller'})
    assert 't=Caf%C3%A9' in url and 'c=M%C3%BCller' in url


def test_meeting_session_type_is_meet():
    assert ('e', 'Meet') in query(installer_url(SERVER, 'exe', session_type='meeting'))


@pytest.mark.parametrize('args, kwargs, message', [
    ((SERVER, 'zip'), {}, 'platform must be one of'),
    (('', 'msi'), {}, 'server URL'),
    ((None, 'msi'), {}, 'server URL'),
    ((SERVER, 'msi'), {'properties': {'colour': 'red'}}, "'colour' is not a property name"),
    ((SERVER, 'msi'), {'properties': 'company=Acme'}, 'properties must be a mapping'),
    ((SERVER, 'msi'), {'custom_properties': {9: 'x'}}, 'slot 9'),
    ((SERVER, 'msi'), {'custom_properties': list('abcdefghi')}, '8 slots'),
    ((SERVER, 'msi'), {'relay_port': 70000}, 'relay_port'),
    ((SERVER, 'msi'), {'relay_port': 'eighty'}, 'relay_port'),
    ((SERVER, 'msi'), {'relay_host': 'bad host/x'}, 'relay_host'),
    ((SERVER, 'msi'), {'public_key': 'not<base64>'}, 'public_key'),
    ((SERVER, 'msi'), {'property_names': {'company': 1, 'site': 1}}, 'both name slot 1'),
    ((SERVER, 'msi'), {'session_type': 'remote'}, 'session_type'),
])
def test_bad_input_raises_a_filter_error(args, kwargs, message):
    with pytest.raises(AnsibleFilterError) as error:
        installer_url(*args, **kwargs)
    assert message in str(error.value)
    assert str(error.value).startswith('installer_url: ')


@pytest.mark.parametrize('server_url', ['acme.example.com', 'https://acme.example.com/?x=1', 'https://acme.example.com/#top',
                                        'https://acme.example.com/path?', 'ftp://acme.example.com', 'https://'])
def test_server_url_that_is_no_base_url_gives_the_modules_error(server_url):
    expected = _connection_options.validate_options({'server_url': server_url}, credentials=False)
    assert len(expected) == 1 and 'server_url' in expected[0]
    with pytest.raises(AnsibleFilterError) as error:
        installer_url(server_url, 'msi')
    assert str(error.value) == 'installer_url: %s' % expected[0]
    with pytest.raises(ValueError) as error:
        _installer.installer_url(server_url, 'msi')
    assert str(error.value) == expected[0]
