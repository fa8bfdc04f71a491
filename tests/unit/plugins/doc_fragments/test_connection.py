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
