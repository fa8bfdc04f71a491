"""The AWX credential type "ScreenConnect" (examples/awx/credential_type_*.yml), rendered the way AWX
renders it, and the AWX example files around it.

What is mirrored from AWX 24.x (awx/main/models/credential/__init__.py, awx/main/fields.py,
awx/main/utils/ansible.py, awx/main/management/commands/inventory_import.py):
- inject_credential: only fields stored on the credential enter the template namespace; an empty
  string is left out (so it renders as "" with Jinja2's default Undefined); a boolean field that is
  not stored is set to False, whatever its `default`; each `env` value is rendered with
  jinja2.sandbox.ImmutableSandboxedEnvironment; the job's stored environment (job_env) is rendered
  again with every secret field replaced by '**********'.
- CredentialTypeInputField / CredentialTypeInjectorField: the schema AWX accepts, and the check that
  every template renders under StrictUndefined with each defined field set to 'EXAMPLE'.
- could_be_playbook: the regex AWX lists project playbooks with.
- _get_enabled: how enabled_var / enabled_value decide a host's enabled flag.

Only the standard library, jinja2 and yaml: no simulator, no ansible. Runs under pytest, or on its
own (`python tests/system/test_awx_credential.py`, what tools/ci/awx_check.sh does).
"""

import ast
import os
import re
import sys

import yaml
from jinja2 import StrictUndefined
from jinja2.sandbox import ImmutableSandboxedEnvironment

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
AWX = os.path.join(REPO, 'examples', 'awx')
INPUTS_FILE = os.path.join(AWX, 'credential_type_inputs.yml')
INJECTORS_FILE = os.path.join(AWX, 'credential_type_injectors.yml')
HIDDEN = '**********'

OPTIONS_TABLE = os.path.join(REPO, 'plugins', 'module_utils', '_connection_options.py')


def connection_options_table():
    """The collection's one table of connection options (CONNECTION_OPTIONS in
    plugins/module_utils/_connection_options.py: name, type, default, environment variable, secret),
    read from its source without importing it, since this file also runs where the collection is
    not importable. Only the name, variable and secret columns, which are literals."""
    with open(OPTIONS_TABLE) as handle:
        tree = ast.parse(handle.read())
    for node in tree.body:
        if isinstance(node, ast.Assign) and [getattr(t, 'id', None) for t in node.targets] == ['CONNECTION_OPTIONS']:
            return [(ast.literal_eval(row.elts[0]), ast.literal_eval(row.elts[3]), ast.literal_eval(row.elts[4]))
                    for row in node.value.elts]
    raise AssertionError('%s has no CONNECTION_OPTIONS table' % OPTIONS_TABLE)


# Connection option -> its environment variable, for the options that have one.
CONNECTION_ENV = dict((name, env) for name, env, _secret in connection_options_table() if env)
# Options that carry a secret (no_log in the collection) or a URL: the credential must hold them.
SECRET_OPTIONS = tuple(name for name, _env, secret in connection_options_table() if secret)
URL_OPTIONS = ('server_url', 'origin', 'oauth_token_url')
# Carried with the secrets: without them a secret is useless.
CREDENTIAL_OPTIONS = SECRET_OPTIONS + URL_OPTIONS + ('api', 'oauth_client_id', 'rate_limit')

# ansible.module_utils.parsing.convert_bool, which the collection's bool options go through.
BOOLEANS_TRUE = frozenset(('y', 'yes', 'on', '1', 'true', 't', '1.0'))
BOOLEANS_FALSE = frozenset(('n', 'no', 'off', '0', 'false', 'f', '0.0'))

# The credential type as it was before skip_tls_verify: a checked-by-default box that AWX ignores.
OLD_INPUTS = {'fields': [{'id': 'server_url', 'type': 'string', 'label': 'Server URL'},
                         {'id': 'validate_certs', 'type': 'boolean', 'label': 'Verify TLS certificates',
                          'default': True}],
              'required': ['server_url']}
OLD_INJECTORS = {'env': {'SCREENCONNECT_SERVER_URL': '{{ server_url }}',
                         'SCREENCONNECT_VALIDATE_CERTS': '{{ validate_certs | default(true) }}'}}


def load(path):
    with open(path) as handle:
        return yaml.safe_load(handle)


def inputs():
    return load(INPUTS_FILE)


def injectors():
    return load(INJECTORS_FILE)


def fields(definition):
    return {field['id']: field for field in definition.get('fields', [])}


# ---- AWX, mirrored -------------------------------------------------------------------------------

def awx_check_inputs(definition):
    """CredentialTypeInputField.validate: the problems AWX would refuse the inputs for."""
    problems = []
    allowed = {'id', 'type', 'label', 'help_text', 'format', 'choices', 'multiline', 'secret',
               'ask_at_runtime', 'default'}
    if set(definition) - {'fields', 'required'}:
        problems.append('unknown keys %s' % sorted(set(definition) - {'fields', 'required'}))
    if 'dependencies' in definition:
        problems.append("'dependencies' is not supported for custom credentials")
    seen = set()
    for field in definition.get('fields', []):
        name = field.get('id')
        if set(field) - allowed:
            problems.append('%s: unknown keys %s' % (name, sorted(set(field) - allowed)))
        if not name or not field.get('label'):
            problems.append('%r: id and label are required' % field)
        if not re.match(r'^[a-zA-Z_]+[a-zA-Z0-9_]*$', str(name)) or name == 'tower' or name in seen:
            problems.append('%s: invalid, reserved or repeated id' % name)
        seen.add(name)
        kind = field.get('type', 'string')
        if kind not in ('string', 'boolean'):
            problems.append('%s: type %s' % (name, kind))
        if 'default' in field and not isinstance(field['default'], {'string': str, 'boolean': bool}.get(kind, type(None))):
            problems.append('%s: default %r is not a %s' % (name, field['default'], kind))
        for key in ('choices', 'multiline', 'format', 'secret'):
            if key in field and kind != 'string':
                problems.append('%s not allowed for %s type (%s)' % (key, kind, name))
        if 'choices' in field and (not field['choices'] or len(set(field['choices'])) != len(field['choices'])
                                   or not all(isinstance(c, str) for c in field['choices'])):
            problems.append('%s: choices must be unique strings' % name)
    for name in definition.get('required', []):
        if name not in seen:
            problems.append('required field %s is not defined' % name)
    return problems


def awx_check_injectors(definition, injector_definition):
    """CredentialTypeInjectorField.validate: schema, allowed variables, and every template renders
    under StrictUndefined with each defined field set to 'EXAMPLE'."""
    problems = []
    if set(injector_definition) - {'env', 'file', 'extra_vars'}:
        problems.append('unknown injector keys %s' % sorted(set(injector_definition) - {'env', 'file', 'extra_vars'}))
    namespace = dict((name, 'EXAMPLE') for name in fields(definition))
    sandbox = ImmutableSandboxedEnvironment(undefined=StrictUndefined)
    for kind, templates in injector_definition.items():
        for key, template in templates.items():
            if not isinstance(template, str):
                problems.append('%s.%s is not a string' % (kind, key))
                continue
            if kind == 'env':
                if not re.match(r'^[a-zA-Z_]+[a-zA-Z0-9_]*$', key):
                    problems.append('%s is not a variable name' % key)
                if key.startswith('ANSIBLE_'):
                    problems.append('%s may affect Ansible configuration' % key)
                if not re.match(r'^[\x00-\x7F]*$', template):
                    problems.append('%s is not ASCII' % key)
            try:
                sandbox.from_string(template).render(namespace)
            except Exception as exc:  # UndefinedError, SecurityError, TemplateSyntaxError
                problems.append('%s.%s: %s' % (kind, key, exc))
    return problems


def awx_inject_env(definition, injector_definition, credential_inputs):
    """inject_credential for `env`: (what the job runs with, what AWX stores and shows as job_env)."""
    secret_fields = [name for name, field in fields(definition).items() if field.get('secret', False) is True]
    namespace, safe_namespace = {}, {}
    for name, value in credential_inputs.items():
        if isinstance(value, bool):
            namespace[name] = safe_namespace[name] = value
            continue
        if name in secret_fields:
            safe_namespace[name] = HIDDEN
        elif len(value):
            safe_namespace[name] = value
        if len(value):
            namespace[name] = value
    for field in definition.get('fields', []):
        # default missing boolean fields to False
        if field.get('type', 'string') == 'boolean' and field['id'] not in credential_inputs:
            namespace[field['id']] = safe_namespace[field['id']] = False
    sandbox = ImmutableSandboxedEnvironment()
    env, safe_env = {}, {}
    for name, template in injector_definition.get('env', {}).items():
        env[name] = sandbox.from_string(template).render(**namespace)
        safe_env[name] = sandbox.from_string(template).render(**safe_namespace)
    return env, safe_env


def awx_env(definition, injector_definition, credential_inputs):
    """The environment a job runs with."""
    return awx_inject_env(definition, injector_definition, credential_inputs)[0]


def awx_could_be_playbook(path):
    """awx/main/utils/ansible.py could_be_playbook: is the file in a project's playbook list?"""
    valid_playbook_re = re.compile(r'^\s*?-?\s*?(?:hosts|include|import_playbook):\s*?.*?$')
    if os.path.splitext(path)[-1] not in ('.yml', '.yaml'):
        return False
    with open(path, encoding='utf-8', errors='ignore') as handle:
        for number, line in enumerate(handle):
            if valid_playbook_re.match(line) or (number == 0 and line.startswith('$ANSIBLE_VAULT;')):
                return True
    return False


def awx_get_enabled(hostvars, enabled_var, enabled_value):
    """inventory_import _get_enabled (enabled_value '' when the field is left blank)."""
    default = object()
    enabled = hostvars
    for key in enabled_var.split('.'):
        enabled = enabled.get(key, default) if hasattr(enabled, 'get') else default
    if enabled is default:
        return None
    if enabled_value is not None:
        return str(enabled_value).lower() == str(enabled).lower()
    return bool(enabled)


# ---- the collection, mirrored ----------------------------------------------------------------------

def client_verifies_tls(env):
    """What the collection does with SCREENCONNECT_VALIDATE_CERTS: empty or unset means the default
    (true); anything else goes through Ansible's boolean conversion, which refuses other words."""
    value = env.get('SCREENCONNECT_VALIDATE_CERTS', '')
    if value == '':
        return True
    value = value.strip().lower()
    if value in BOOLEANS_TRUE:
        return True
    if value in BOOLEANS_FALSE:
        return False
    raise AssertionError('SCREENCONNECT_VALIDATE_CERTS=%r is not a boolean Ansible accepts' % value)


def tls_problems(definition, injector_definition):
    """Every reason the credential type would not verify TLS when nobody touches it."""
    problems = []
    for name, field in fields(definition).items():
        if field.get('type') == 'boolean' and field.get('default') is True:
            problems.append('boolean field %s defaults to true, which AWX ignores (unset = false)' % name)
    untouched = awx_env(definition, injector_definition, {'server_url': 'https://acme.screenconnect.com'})
    if not client_verifies_tls(untouched):
        problems.append('a credential with the box left alone injects SCREENCONNECT_VALIDATE_CERTS=%r'
                        % untouched.get('SCREENCONNECT_VALIDATE_CERTS'))
    return problems


# ---- tests -----------------------------------------------------------------------------------------

def test_awx_accepts_the_inputs():
    assert awx_check_inputs(inputs()) == []


def test_awx_accepts_the_injectors():
    assert awx_check_injectors(inputs(), injectors()) == []


def test_box_left_alone_verifies_tls():
    env = awx_env(inputs(), injectors(), {'server_url': 'https://acme.screenconnect.com',
                                          'api_secret': 's3cret'})
    assert env['SCREENCONNECT_VALIDATE_CERTS'] == 'true'
    assert client_verifies_tls(env) is True
    assert tls_problems(inputs(), injectors()) == []


def test_box_unticked_verifies_tls():
    env = awx_env(inputs(), injectors(), {'server_url': 'https://acme.screenconnect.com',
                                          'skip_tls_verify': False})
    assert env['SCREENCONNECT_VALIDATE_CERTS'] == 'true'
    assert client_verifies_tls(env) is True


def test_box_ticked_skips_tls_verification():
    env = awx_env(inputs(), injectors(), {'server_url': 'https://acme.screenconnect.com',
                                          'skip_tls_verify': True})
    assert env['SCREENCONNECT_VALIDATE_CERTS'] == 'false'
    assert client_verifies_tls(env) is False


def test_old_validate_certs_field_is_caught():
    """The check above would have failed on the credential type this one replaces."""
    assert awx_check_inputs(OLD_INPUTS) == [] and awx_check_injectors(OLD_INPUTS, OLD_INJECTORS) == []
    env = awx_env(OLD_INPUTS, OLD_INJECTORS, {'server_url': 'https://acme.screenconnect.com'})
    assert env['SCREENCONNECT_VALIDATE_CERTS'] == 'False'
    assert client_verifies_tls(env) is False
    assert len(tls_problems(OLD_INPUTS, OLD_INJECTORS)) == 2


def test_connection_env_is_the_options_table():
    """Read from the code's table, not copied: a copy here once lacked SCREENCONNECT_CA_PATH."""
    assert CONNECTION_ENV['ca_path'] == 'SCREENCONNECT_CA_PATH'
    assert CONNECTION_ENV['server_url'] == 'SCREENCONNECT_SERVER_URL'
    assert 'timeout' not in CONNECTION_ENV  # no environment variable in the table
    assert set(SECRET_OPTIONS) == {'api_secret', 'api_key', 'oauth_client_secret'}


def test_only_connection_variables_are_injected():
    names = set(injectors()['env'])
    assert names <= set(CONNECTION_ENV.values()), names - set(CONNECTION_ENV.values())
    assert set(injectors()) == {'env'}


def test_secret_fields_are_secret():
    by_id = fields(inputs())
    for name in SECRET_OPTIONS:
        assert by_id[name].get('secret') is True, name
    secret = [name for name, field in by_id.items() if field.get('secret')]
    assert sorted(secret) == sorted(SECRET_OPTIONS)


def test_fields_cover_the_connection_options():
    """Each option that carries a secret or a URL (and what goes with them) has a field, and the
    field's value reaches the option's variable unchanged."""
    by_id = fields(inputs())
    values = dict((name, 'value-of-%s' % name) for name in CREDENTIAL_OPTIONS)
    values['api'] = 'session_manager'
    env = awx_env(inputs(), injectors(), values)
    for name in CREDENTIAL_OPTIONS:
        assert name in by_id, name
        assert env[CONNECTION_ENV[name]] == values[name], name
    assert 'server_url' in inputs()['required']
    assert by_id['api']['choices'][0] == 'rest'  # AWX fills a blank choice with the first one


def test_unset_fields_render_empty():
    """Unused fields become empty variables, which the collection treats as unset."""
    env = awx_env(inputs(), injectors(), {'server_url': 'https://acme.screenconnect.com',
                                          'api_secret': 's3cret', 'origin': ''})
    assert env['SCREENCONNECT_SERVER_URL'] == 'https://acme.screenconnect.com'
    assert env['SCREENCONNECT_API_SECRET'] == 's3cret'
    for name, value in env.items():
        if name not in ('SCREENCONNECT_SERVER_URL', 'SCREENCONNECT_API_SECRET', 'SCREENCONNECT_VALIDATE_CERTS'):
            assert value == '', (name, value)


def test_job_env_hides_the_secrets():
    values = {'server_url': 'https://acme.screenconnect.com', 'api_secret': 'rest-s3cret',
              'api_key': 'bearer-s3cret', 'oauth_client_secret': 'oauth-s3cret', 'oauth_client_id': 'client'}
    env, safe_env = awx_inject_env(inputs(), injectors(), values)
    assert env['SCREENCONNECT_API_SECRET'] == 'rest-s3cret'
    for secret in ('rest-s3cret', 'bearer-s3cret', 'oauth-s3cret'):
        assert secret not in ''.join(safe_env.values())
    assert safe_env['SCREENCONNECT_API_SECRET'] == HIDDEN
    assert safe_env['SCREENCONNECT_OAUTH_CLIENT_ID'] == 'client'


def test_docs_show_the_shipped_files():
    """docs/awx.md shows the credential type as the files hold it."""
    with open(os.path.join(REPO, 'docs', 'awx.md')) as handle:
        docs = handle.read()
    blocks = []
    for block in re.findall(r'```yaml\n(.*?)```', docs, re.S):
        try:
            blocks.append(yaml.safe_load(block))
        except yaml.YAMLError:
            pass  # not every example block is a whole YAML document
    assert inputs() in blocks
    assert injectors() in blocks


def test_project_files_are_what_awx_lists():
    setup = load(os.path.join(AWX, 'setup_awx.yml'))
    play = setup[0]
    tasks = dict((next(key for key in task if key.startswith('awx.awx.')), task) for task in play['tasks']
                 if any(key.startswith('awx.awx.') for key in task))
    project = os.path.join(AWX, 'project')
    playbook = play['vars']['awx_job_template_playbook']
    assert tasks['awx.awx.job_template']['awx.awx.job_template']['playbook'] == '{{ awx_job_template_playbook }}'
    assert awx_could_be_playbook(os.path.join(project, playbook))
    source = tasks['awx.awx.inventory_source']['awx.awx.inventory_source']
    path = play['vars']['awx_inventory_source_path']
    assert source['source'] == 'scm' and source['source_path'] == '{{ awx_inventory_source_path }}'
    assert path.endswith(('screenconnect.yml', 'screenconnect.yaml'))
    assert load(os.path.join(project, path))['plugin'] == 'msp.screenconnect.screenconnect'
    # The credential task carries the secret.
    assert tasks['awx.awx.credential'].get('no_log') is True
    # The credential type comes from the shipped files.
    credential_type = tasks['awx.awx.credential_type']['awx.awx.credential_type']
    assert 'credential_type_inputs.yml' in credential_type['inputs']
    assert 'credential_type_injectors.yml' in credential_type['injectors']


def test_enabled_value_matches_the_online_hostvar():
    """screenconnect_online is a JSON boolean: enabled_value "true" marks online hosts enabled, and
    a blank enabled_value would mark every host disabled."""
    source = next(task['awx.awx.inventory_source'] for task in load(os.path.join(AWX, 'setup_awx.yml'))[0]['tasks']
                  if 'awx.awx.inventory_source' in task)
    assert source['enabled_var'] == 'screenconnect_online'
    assert awx_get_enabled({'screenconnect_online': True}, source['enabled_var'], source['enabled_value']) is True
    assert awx_get_enabled({'screenconnect_online': False}, source['enabled_var'], source['enabled_value']) is False
    assert awx_get_enabled({'screenconnect_online': True}, 'screenconnect_online', '') is False


if __name__ == '__main__':
    failed = 0
    tests = [(name, test) for name, test in sorted(globals().items()) if name.startswith('test_') and callable(test)]
    for name, test in tests:
        try:
            test()
        except Exception as exc:  # report every failure, then exit non-zero
            failed += 1
            print('FAILED %s: %s: %s' % (name, type(exc).__name__, exc))
        else:
            print('ok %s' % name)
    print('%d passed, %d failed' % (len(tests) - failed, failed))
    sys.exit(1 if failed else 0)
