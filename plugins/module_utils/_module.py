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

import os

from ansible.module_utils.basic import AnsibleModule, missing_required_lib
from ansible.module_utils.errors import AnsibleFallbackNotFound

from ansible_collections.msp.screenconnect.plugins.module_utils import _client, _connection_options, _sessions


def _env_fallback_nonempty(*names):
    """Like env_fallback, but an empty variable counts as unset (AWX injects empty fields)."""
    for name in names:
        if os.environ.get(name):
            return os.environ[name]
    raise AnsibleFallbackNotFound


def connection_argument_spec():
    spec = {}
    for name, option_type, default, env, secret in _connection_options.CONNECTION_OPTIONS:
        option = {'type': option_type}
        if default is not None:
            option['default'] = default
        if env:
            option['fallback'] = (_env_fallback_nonempty, [env])
        option['no_log'] = secret  # explicit, so names like oauth_token_url are not mistaken for secrets
        if name == 'api':
            option['choices'] = list(_connection_options.APIS)
        if name == 'server_url':
            option['required'] = True  # env_fallback is applied before this is checked
        spec[name] = option
    return spec


class ScreenConnectModule(AnsibleModule):

    def __init__(self, argument_spec=None, **kwargs):
        spec = connection_argument_spec()
        spec.update(argument_spec or {})
        super(ScreenConnectModule, self).__init__(argument_spec=spec, **kwargs)

    _api_client = None  # the client once built, for api_stats and its warnings
    _warned = 0  # how many of the client's warnings were shown already

    def client(self, **kwargs):
        """The shared client from this module's options; fails the module on bad options."""
        if not _client.HAS_REQUESTS:
            self.fail_json(msg=missing_required_lib('requests'), exception=str(_client.REQUESTS_IMPORT_ERROR))
        try:
            self._api_client = _client.from_options(self.params.get, **kwargs)
        except _client.ConfigError as error:
            self.fail_json(msg=str(error))
        self._show_client_warnings()
        return self._api_client

    def _show_client_warnings(self):
        # The client adds warnings while it works (a session skipped, a field it could not read):
        # each is shown once, whenever it came.
        if self._api_client is None:
            return
        warnings = list(self._api_client.warnings)
        for warning in warnings[self._warned:]:
            self.warn(warning)
        self._warned = len(warnings)

    def _with_api_stats(self, result):
        # What the task cost against the server: requests, retries, 429s and seconds waited.
        if self._api_client is not None and 'api_stats' not in result:
            stats = dict(self._api_client.stats)
            stats['waited'] = round(stats['waited'], 3)
            result['api_stats'] = stats
        return result

    def exit_json(self, **kwargs):
        self._show_client_warnings()
        super(ScreenConnectModule, self).exit_json(**self._with_api_stats(kwargs))

    def fail_json(self, msg, **kwargs):
        self._show_client_warnings()
        super(ScreenConnectModule, self).fail_json(msg=msg, **self._with_api_stats(kwargs))

    def fail_from_error(self, error, **result):
        """Fail with the server's status, method and message (never the secret)."""
        details = error.to_result()
        details.update(result)
        self.fail_json(**details)


# ---- an option of every module that reads or writes custom properties ---------------------------------

PROPERTY_NAMES_OPTION = {'property_names': {'type': 'dict', 'default': dict(_sessions.DEFAULT_PROPERTY_NAMES)}}
