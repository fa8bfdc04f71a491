"""The connection options are documented as they run: the fragment's DOCUMENTATION (modules) and
PLUGINS (the inventory, where the documentation is the configuration) against the table in
module_utils/_connection_options.py and the modules' argument spec."""

import pytest
import yaml

from ansible_collections.msp.screenconnect.plugins.doc_fragments.connection import ModuleDocFragment
from ansible_collections.msp.screenconnect.plugins.module_utils import _connection_options, _module

TABLE = dict((name, {'type': kind, 'default': default, 'env': env, 'secret': secret})
             for name, kind, default, env, secret in _connection_options.CONNECTION_OPTIONS)
MODULES = yaml.safe_load(ModuleDocFragment.DOCUMENTATION)['options']
PLUGINS = yaml.safe_load(ModuleDocFragment.PLUGINS)['options']


def test_the_modules_form_documents_exactly_the_table():
    assert list(MODULES) == list(TABLE)


@pytest.mark.parametrize('name', list(TABLE))
def test_type_default_and_environment_match_the_code(name):
    code = TABLE[name]
    documented = MODULES[name]
    assert documented['type'] == code['type'] and documented.get('default') == code['default']
    # The inventory reads exactly the variable the modules fall back to, and the text says which.
    assert [entry['name'] for entry in PLUGINS.get(name, {}).get('env', [])] == ([code['env']] if code['env'] else [])
    sentences = [line for line in documented['description'] if 'environment variable' in line]
    assert sentences == (['If not set, the environment variable E(%s) is used.' % code['env']] if code['env'] else [])


def test_plugins_form_adds_only_the_environment():
    """ansible-core merges PLUGINS' entries into DOCUMENTATION's options: nothing is described twice."""
    assert set(PLUGINS) <= set(TABLE)
    assert all(list(option) == ['env'] for option in PLUGINS.values())


def test_argument_spec_matches_the_documentation():
    spec = _module.connection_argument_spec()
    assert list(spec) == list(MODULES)
    for name, option in spec.items():
        documented = MODULES[name]
        assert option['type'] == documented['type'] and option.get('default') == documented.get('default')
        assert option.get('required', False) == documented.get('required', False)
        assert option.get('choices') == documented.get('choices')
        assert option['no_log'] is TABLE[name]['secret']
        assert ('fallback' in option) is bool(TABLE[name]['env'])


def test_the_inventory_takes_its_connection_configuration_from_both_forms():
    from ansible_collections.msp.screenconnect.plugins.inventory import screenconnect
    documentation = yaml.safe_load(screenconnect.DOCUMENTATION)
    fragments = documentation['extends_documentation_fragment']
    assert fragments.index('msp.screenconnect.connection') < fragments.index('msp.screenconnect.connection.plugins')
    assert not set(documentation['options']) & set(TABLE)  # nothing of its own shadows the fragment


@pytest.mark.parametrize('server_url,origin', [
    ('https://acme.screenconnect.com', 'https://acme.screenconnect.com'),
    ('https://acme.screenconnect.com/', 'https://acme.screenconnect.com'),
    ('https://acme.screenconnect.com/control/', 'https://acme.screenconnect.com'),
    ('https://Acme.ScreenConnect.com:8443/a/b', 'https://acme.screenconnect.com:8443'),
    ('http://10.0.0.5:8040', 'http://10.0.0.5:8040'),
    ('https://user:pw@acme.example.com/', 'https://acme.example.com'),
])
def test_default_origin_is_scheme_host_and_port_only(server_url, origin):
    assert _connection_options.default_origin(server_url) == origin


def test_an_origin_with_white_space_is_refused_before_any_request():
    problems = _connection_options.validate_options({'server_url': 'https://a.example', 'api_secret': 'x',
                                                     'origin': 'https://a.example\r\nX-Evil: 1'})
    assert problems and 'origin' in problems[0] and 'RESTfulAllowedOrigin' in problems[0]
    assert _connection_options.validate_options({'server_url': 'https://a.example', 'api_secret': 'x',
                                                 'origin': 'a.example'}) == []
