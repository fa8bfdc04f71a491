"""The connection options are documented as they run: the fragment's DOCUMENTATION (modules) and
PLUGINS (the inventory, where the documentation is the configuration) against the table in
module_utils/_connection_options.py and the modules' argument spec."""

import re

import pytest
import yaml

from ansible_collections.msp.screenconnect.plugins.doc_fragments.connection import ModuleDocFragment
from ansible_collections.msp.screenconnect.plugins.module_utils import _connection_options, _module

TABLE = dict((name, {'type': kind, 'default': default, 'env': env, 'secret': secret})
             for name, kind, default, env, secret in _connection_options.CONNECTION_OPTIONS)
MODULES = yaml.safe_load(ModuleDocFragment.DOCUMENTATION)['options']
PLUGINS = yaml.safe_load(ModuleDocFragment.PLUGINS)['options']


def test_both_forms_document_exactly_the_table():
    assert list(MODULES) == list(TABLE) == list(PLUGINS)


@pytest.mark.parametrize('name', list(TABLE))
def test_type_default_and_environment_match_the_code(name):
    code = TABLE[name]
    for documented in (MODULES[name], PLUGINS[name]):
        assert documented['type'] == code['type']
        assert documented.get('default') == code['default']
    # The inventory reads exactly the variable the modules fall back to.
    assert [entry['name'] for entry in PLUGINS[name].get('env', [])] == ([code['env']] if code['env'] else [])
    sentences = [line for line in MODULES[name]['description'] if 'environment variable' in line]
    assert sentences == (['If not set, the environment variable E(%s) is used.' % code['env']] if code['env'] else [])


@pytest.mark.parametrize('name', list(TABLE))
def test_both_forms_say_the_same_but_for_the_environment(name):
    modules = dict(MODULES[name], description=[line for line in MODULES[name]['description']
                                               if 'environment variable' not in line])
    plugins = dict(PLUGINS[name])
    plugins.pop('env', None)
    assert modules == plugins


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


def test_no_option_is_described_twice_in_the_source():
    """Each option's text is written once: the module form is derived from the plugin form."""
    import inspect
    from ansible_collections.msp.screenconnect.plugins.doc_fragments import connection
    source = inspect.getsource(connection)
    for name in TABLE:
        assert len(re.findall(r'(?m)^  %s:$' % name, source)) == 1, name


def test_the_inventory_takes_its_connection_configuration_from_the_plugins_form():
    from ansible_collections.msp.screenconnect.plugins.inventory import screenconnect
    documentation = yaml.safe_load(screenconnect.DOCUMENTATION)
    assert 'msp.screenconnect.connection.plugins' in documentation['extends_documentation_fragment']
    assert not set(documentation['options']) & set(TABLE)  # nothing of its own shadows the fragment
