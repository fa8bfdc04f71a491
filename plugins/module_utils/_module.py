# -*- coding: utf-8 -*-
# Copyright: msp.screenconnect contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""AnsibleModule wired once to the shared connection options and client.

A module file is then its own options, its calls and its result:

    module = ScreenConnectModule(argument_spec=dict(name=dict(type='str')), supports_check_mode=True)
    client = module.client()
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

from ansible.module_utils.basic import AnsibleModule, env_fallback, missing_required_lib

from ansible_collections.msp.screenconnect.plugins.module_utils import _client


def connection_argument_spec():
    spec = {}
    for name, option_type, default, env, secret in _client.CONNECTION_OPTIONS:
        option = {'type': option_type}
        if default is not None:
            option['default'] = default
        if env:
            option['fallback'] = (env_fallback, [env])
        if secret:
            option['no_log'] = True
        if name == 'api':
            option['choices'] = list(_client.APIS)
        if name == 'server_url':
            option['required'] = True  # env_fallback is applied before this is checked
        spec[name] = option
    return spec


class ScreenConnectModule(AnsibleModule):

    def __init__(self, argument_spec=None, **kwargs):
        spec = connection_argument_spec()
        spec.update(argument_spec or {})
        super(ScreenConnectModule, self).__init__(argument_spec=spec, **kwargs)

    def client(self, **kwargs):
        """The shared client from this module's options; fails the module on bad options."""
        if not _client.HAS_REQUESTS:
            self.fail_json(msg=missing_required_lib('requests'), exception=str(_client.REQUESTS_IMPORT_ERROR))
        try:
            return _client.from_options(self.params.get, **kwargs)
        except _client.ConfigError as error:
            self.fail_json(msg=str(error))

    def fail_from_error(self, error, **result):
        """Fail with the server's status, method and message (never the secret)."""
        details = error.to_result()
        details.update(result)
        self.fail_json(**details)
