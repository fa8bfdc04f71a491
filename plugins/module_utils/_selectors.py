# -*- coding: utf-8 -*-
# Copyright: msp.screenconnect contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The sessions a module acts on: from its selector options to the sessions, and back to one result
per session. Sits on top of the client (_client.py) and the module base (_module.py)."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

from ansible_collections.msp.screenconnect.plugins.module_utils import _client, _sessions
from ansible_collections.msp.screenconnect.plugins.module_utils._module import (
    SESSION_SELECTOR_OPTIONS, SESSION_TYPE_CHOICES, ScreenConnectModule)


# Up to this many ids are looked up one by one; past it, one fetch of the whole session type
# costs fewer requests against the rate limit than N lookups.
_LOOKUPS_BEFORE_BULK = 20
_FILTER_FIELDS = (('name', 'Name'), ('machine_name', 'GuestMachineName'), ('serial_number', 'GuestMachineSerialNumber'))


def check_selectors(params):
    """Problems with the session selectors, found before any request."""
    problems = []
    for value in params.get('session_id') or []:
        if not _sessions.is_session_id(value):
            problems.append('session_id: %r is not a session id (a GUID like 5523a541-96b3-4870-9a18-38b6734dbd78)'
                            % (value,))
    if params.get('property_names') is not None:
        problems.extend(_sessions.validate_property_names(params['property_names']))
    return problems


def _matches(session, params):
    for option, _field in _FILTER_FIELDS:
        wanted = params.get(option)
        if wanted is None:
            continue
        have = session['name'] if option == 'name' else session['guest'][option]
        if have.lower() != wanted.lower():
            return False
    return True


def select_sessions(client, params, session_type='access', raw_filter=None):
    """The sessions named by session_id / name / machine_name / serial_number (combined with AND)
    and an optional raw filter expression. Returns (sessions, ids_not_found)."""
    property_names = params.get('property_names')
    ids = []
    for value in params.get('session_id') or []:
        if value.lower() not in ids:
            ids.append(value.lower())
    if not ids:
        conditions = [_sessions.condition(field, params[option]) for option, field in _FILTER_FIELDS
                      if params.get(option) is not None]
        expression = _sessions.all_of(*(conditions + [raw_filter]))
        # Without a raw filter, _matches checks every condition here, so a server without
        # GetSessionsByFilter (older extensions) may answer by name instead.
        by_name = params.get('name') if not raw_filter else None
        found = client.find_sessions(expression, session_type, property_names, by_name=by_name)
        return [session for session in found if _matches(session, params)], []
    if len(ids) <= _LOOKUPS_BEFORE_BULK and not raw_filter:
        found = [client.get_session(session_id, property_names) for session_id in ids]
        by_id = dict((session['session_id'], session) for session in found if session)
    else:
        by_id = dict((session['session_id'], session)
                     for session in client.find_sessions(raw_filter, 'all', property_names))
    missing = [session_id for session_id in ids if session_id not in by_id]
    sessions = [by_id[session_id] for session_id in ids if session_id in by_id
                and session_type in ('all', by_id[session_id]['session_type']) and _matches(by_id[session_id], params)]
    return sessions, missing


def targets_or_fail(module, client, session_type='access'):
    """select_sessions() for a module that acts: fails on bad selectors, unknown ids or no match."""
    problems = check_selectors(module.params)
    if problems:
        module.fail_json(msg='; '.join(problems))
    try:
        sessions, missing = select_sessions(client, module.params, session_type)
    except _client.ScreenConnectError as error:
        module.fail_from_error(error, changed=False)
    if missing:
        module.fail_json(msg='session_id: no session %s on %s' % (', '.join(missing), client.server_url),
                         not_found=missing)
    if not sessions:
        named = ', '.join('%s=%r' % (option, module.params[option]) for option in SESSION_SELECTOR_OPTIONS
                          if module.params.get(option))
        module.fail_json(msg='no %s session matched %s' % (session_type, named))
    return sessions


def session_result(session, **extra):
    result = {'session_id': session['session_id'], 'name': session['name'],
              'machine_name': session['guest']['machine_name'], 'online': session['online']}
    result.update(extra)
    return result


def send_to_sessions(module, client, sessions, method, text):
    """Send `text` with a void method to each session; one result per session. A failure on one
    session does not stop the others: those already sent cannot be taken back."""
    results = []
    for session in sessions:
        if module.check_mode:
            results.append(session_result(session, changed=True, sent=False))
            continue
        try:
            client.call(method, [session['session_id'], text])
            results.append(session_result(session, changed=True, sent=True))
        except _client.ScreenConnectError as error:
            results.append(session_result(session, changed=error.may_have_run, sent=False, failed=True,
                                          msg=error.message, may_have_run=error.may_have_run))
    return results


def run_send_module(option, method):
    """The whole of session_message and session_note: `option`'s text sent with `method`."""
    argument_spec = dict(SESSION_SELECTOR_OPTIONS)
    argument_spec.update({option: {'type': 'str', 'required': True},
                          'session_type': {'type': 'str', 'choices': SESSION_TYPE_CHOICES, 'default': 'access'}})
    module = ScreenConnectModule(argument_spec=argument_spec, supports_check_mode=True,
                                 required_one_of=[list(SESSION_SELECTOR_OPTIONS)])
    client = module.client()
    sessions = targets_or_fail(module, client, module.params['session_type'])
    exit_with_results(module, send_to_sessions(module, client, sessions, method, module.params[option]))


def exit_with_results(module, results, **extra):
    failed = [result for result in results if result.get('failed')]
    changed = any(result['changed'] for result in results)
    if failed:
        module.fail_json(msg='%d of %d sessions failed; first: %s' % (len(failed), len(results), failed[0]['msg']),
                         changed=changed, results=results, **extra)
    module.exit_json(changed=changed, results=results, **extra)
