# -*- coding: utf-8 -*-
# Copyright: msp.screenconnect contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The sessions a module acts on: from its selector options to the sessions, and back to one result
per session. Sits on top of the client (_client.py) and the module base (_module.py).

The rules every module keeps (the selectors doc fragment tells users the same):
- selectors combine with AND; an empty session_id list selects nothing, so anything AND it is
  nothing. It never means "every session": a filter that matched nothing upstream must not turn
  into a write to the whole fleet;
- a blank name, machine_name or serial_number is refused before any request (it would select every
  session where that field is blank);
- a session listed twice (its id in two spellings) is acted on once;
- a write that fails after it may have reached the server is reported as may_have_run and changed,
  and the other sessions are still tried.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

from ansible_collections.msp.screenconnect.plugins.module_utils import _client, _sessions
from ansible_collections.msp.screenconnect.plugins.module_utils._module import ScreenConnectModule

SESSION_SELECTOR_OPTIONS = {
    'session_id': {'type': 'list', 'elements': 'str'},
    'name': {'type': 'str'},
    'machine_name': {'type': 'str'},
    'serial_number': {'type': 'str'},
}
SESSION_TYPE_CHOICES = ['access', 'support', 'meeting', 'all']
# Up to this many ids are looked up one by one; past it, one fetch of the whole session type
# costs fewer requests against the rate limit than N lookups.
_LOOKUPS_BEFORE_BULK = 20
_FILTER_FIELDS = (('name', 'Name'), ('machine_name', 'GuestMachineName'), ('serial_number', 'GuestMachineSerialNumber'))
TEXT_SELECTORS = tuple(option for option, _field in _FILTER_FIELDS)


def check_selectors(params, required=False):
    """Problems with the session selectors, found before any request. `required`: a module that
    acts needs at least one selector with a value (null counts as not given, as it selects nothing)."""
    problems = []
    if required and all(params.get(option) is None for option in SESSION_SELECTOR_OPTIONS):
        problems.append('one of %s is required to say which sessions to act on (a null value does not count)'
                        % ', '.join(SESSION_SELECTOR_OPTIONS))
    for value in params.get('session_id') or []:
        if not _sessions.is_session_id(value):
            problems.append('session_id: %r is not a session id (a GUID like 5523a541-96b3-4870-9a18-38b6734dbd78)'
                            % (value,))
    for option in TEXT_SELECTORS:
        value = params.get(option)
        if value is not None and not value.strip():
            # On the server a blank value matches every session whose field is blank.
            problems.append('%s: %r is blank, which would select every session without a %s; give a value, '
                            'or leave %s out' % (option, value, option.replace('_', ' '), option))
    if params.get('property_names') is not None:
        problems.extend(_sessions.validate_property_names(params['property_names']))
    return problems


def empty_selection(params):
    """The selector given as an empty list, or None. An empty list selects no session."""
    return 'session_id' if params.get('session_id') == [] else None


def _matches(session, params):
    for option, _field in _FILTER_FIELDS:
        wanted = params.get(option)
        if wanted is None:
            continue
        have = session.get('name') if option == 'name' else (session.get('guest') or {}).get(option)
        if (have or '').lower() != wanted.lower():
            return False
    return True


def unique_sessions(client, sessions):
    """Each session once, by its lower-cased id: a listing may hold one session twice."""
    seen, unique = set(), []
    for session in sessions:
        key = session['session_id'].lower()
        if key in seen:
            client.warnings.append('the server listed session %s more than once; it is acted on once' % key)
            continue
        seen.add(key)
        unique.append(session)
    return unique


def select_sessions(client, params, session_type='access', raw_filter=None):
    """The sessions named by session_id / name / machine_name / serial_number (combined with AND)
    and an optional raw filter expression, each once. Returns (sessions, ids_not_found)."""
    if empty_selection(params):
        return [], []  # nothing AND anything is nothing: no request at all
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
        return unique_sessions(client, [session for session in found if _matches(session, params)]), []
    if len(ids) <= _LOOKUPS_BEFORE_BULK and not raw_filter:
        found = [client.get_session(session_id, property_names) for session_id in ids]
    else:
        found = client.find_sessions(raw_filter, 'all', property_names)
    by_id = {}
    for session in unique_sessions(client, [session for session in found if session]):
        by_id[session['session_id'].lower()] = session
    missing = [session_id for session_id in ids if session_id not in by_id]
    sessions = [by_id[session_id] for session_id in ids if session_id in by_id
                and session_type in ('all', by_id[session_id]['session_type']) and _matches(by_id[session_id], params)]
    return sessions, missing


def targets_or_fail(module, client, session_type='access'):
    """select_sessions() for a module that acts: fails on bad selectors, unknown ids or no match.
    An empty session_id list is no error: it selects nothing, the task changes nothing and says so."""
    problems = check_selectors(module.params, required=True)
    if problems:
        module.fail_json(msg='; '.join(problems))
    empty = empty_selection(module.params)
    if empty:
        module.warn('%s is an empty list: it selects no session, so nothing was sent. To act on every session, '
                    'name them: read them with session_info (its filter option) and pass their ids' % empty)
        return []
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
    guest = session.get('guest') or {}
    result = {'session_id': session['session_id'], 'name': session.get('name'),
              'machine_name': guest.get('machine_name'), 'online': session.get('online')}
    result.update(extra)
    return result


def write_failure(error):
    """{msg, may_have_run, changed} for a write that raised `error`. The client's errors carry its
    own judgement; anything else came after the request went out, so it may have been carried out."""
    if isinstance(error, _client.ScreenConnectError):
        # A 2xx status means the server took the write, whatever was wrong with its answer.
        may_have_run = bool(error.may_have_run) or (isinstance(error.status, int) and 200 <= error.status < 300)
        return {'msg': error.message, 'may_have_run': may_have_run, 'changed': may_have_run}
    return {'msg': 'unexpected %s after the request was sent: the server may have carried it out, so it was not '
                   'sent again' % type(error).__name__, 'may_have_run': True, 'changed': True}


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
        except Exception as error:  # any failure of one session's write, so it never stops the others
            results.append(session_result(session, sent=False, failed=True, **write_failure(error)))
    return results


def run_send_module(option, method, module_name):
    """The whole of session_message and session_note: `option`'s text sent with `method`."""
    argument_spec = dict(SESSION_SELECTOR_OPTIONS)
    argument_spec.update({option: {'type': 'str', 'required': True},
                          'session_type': {'type': 'str', 'choices': SESSION_TYPE_CHOICES, 'default': 'access'}})
    module = ScreenConnectModule(argument_spec=argument_spec, supports_check_mode=True,
                                 required_one_of=[list(SESSION_SELECTOR_OPTIONS)])
    if not module.params[option].strip():
        # An empty chat message or note only adds noise to every session's history.
        module.fail_json(msg='%s is empty: give the text to send' % option)
    client = module.client()
    if client.api != 'rest':
        module.fail_json(msg="%s needs api: rest (the RESTful API Manager's %s)" % (module_name, method))
    sessions = targets_or_fail(module, client, module.params['session_type'])
    exit_with_results(module, send_to_sessions(module, client, sessions, method, module.params[option]))


def exit_with_results(module, results, **extra):
    failed = [result for result in results if result.get('failed')]
    changed = any(result['changed'] for result in results)
    if failed:
        module.fail_json(msg='%d of %d sessions failed; first: %s' % (len(failed), len(results), failed[0]['msg']),
                         changed=changed, results=results, **extra)
    module.exit_json(changed=changed, results=results, **extra)
