"""Checks what runme.sh collected: python check_inventory.py GOLDEN_DIR WORK_DIR."""

import json
import os
import re
import sys

from ansible.release import __version__ as ansible_version

from inventory_export import unwrap  # tests/system/inventory_export.py: runme.sh puts it on PYTHONPATH

PLUGIN = 'msp.screenconnect.screenconnect'
# The session with this company is in the generated fleet of seed 2026 (WS-00017, WS-00034).
LOOKUP_COMPANY = "{{ lookup('pipe','id') }} Ltd"
LOOKUP_GROUP = 'company_lookup_pipe_id_ltd'


def read(*parts):
    with open(os.path.join(*parts), encoding='utf-8') as handle:
        return handle.read()


def groups_of(listing):
    """{group: sorted hosts} of an ansible-inventory --list answer (children left out)."""
    return dict((name, sorted(unwrap(body.get('hosts', [])))) for name, body in listing.items()
                if name != '_meta' and body.get('hosts'))


def main(golden, work):
    assert read(golden, 'screenconnect.yml').strip() == 'plugin: %s' % PLUGIN  # connection only from SCREENCONNECT_*
    golden_list = unwrap(json.loads(read(golden, 'golden_list.json')))
    listing = json.loads(read(work, 'list.json'))

    requests = [entry for entry in json.loads(read(work, 'requests.json')) if entry.get('api') in ('rest', 'rpc')]
    assert [entry['method'] for entry in requests] == ['GetSessionsByFilter'], requests
    assert requests[0]['args'] == ["SessionType = 'Access'"], requests[0]

    assert unwrap(listing) == golden_list, 'ansible-inventory --list differs from files/golden_list.json'
    # --list --export is the golden list as it is, {"__ansible_unsafe": ...} markers and all (only
    # text that could be a template is marked); 2.16-2.18 write no _meta.profile.
    export = json.loads(read(work, 'export.json'))
    expected = json.loads(read(golden, 'golden_list.json'))
    if tuple(int(part) for part in re.findall(r'\d+', ansible_version)[:2]) < (2, 19):
        del expected['_meta']['profile']
    assert export == expected, 'ansible-inventory --list --export differs from files/golden_list.json, markers included'
    graph = read(work, 'graph.txt')
    assert graph == read(golden, 'golden_graph.txt'), 'ansible-inventory --graph differs from files/golden_graph.txt:\n' + graph
    # Runs are stable, and the Session Manager API gives the same inventory.
    assert read(work, 'graph-again.txt') == graph
    assert unwrap(json.loads(read(work, 'list-again.json'))) == golden_list
    session_manager = json.loads(read(work, 'list-session-manager.json'))
    assert groups_of(session_manager) == groups_of(listing)
    assert unwrap(session_manager) == golden_list

    hostvars = listing['_meta']['hostvars']
    groups = groups_of(listing)
    # 40 sessions: 1 Meeting, 1 Support, 3 ended and the older duplicate of WS-00028 are left out.
    assert len(hostvars) == 34, sorted(hostvars)
    assert not [name for name in hostvars if name.startswith(('Ticket', 'Meeting'))]
    assert not set(hostvars) & {'WS-00020', 'WS-00033', 'LNX-00036'}  # IsEnded
    assert unwrap(hostvars['WS-00028']['screenconnect_session_id']).startswith('6d59da66')  # the newer one
    # Blank names fall back to the machine name; a never-connected agent keeps its session name.
    assert unwrap(hostvars['LNX-00014']['screenconnect_name']) == ''
    assert 'NEW-00004' in hostvars and unwrap(hostvars['NEW-00004']['screenconnect_guest']['machine_name']) == ''
    assert unwrap(hostvars['WS-00017']['screenconnect_company']) == LOOKUP_COMPANY
    assert groups[LOOKUP_GROUP] == ['WS-00017', 'WS-00034']
    # 'web, staging' and 'web,prod' split on the separator.
    assert {'tag_web', 'tag_prod', 'tag_staging', 'tag_db', 'tag_kiosk'} <= set(groups)
    assert 'MAC-00006' in groups['tag_web'] and 'MAC-00006' in groups['tag_staging']
    assert {'company_o_reilly_sons', 'company_cafe_muller', 'company_umbrella_eu', 'site_branch_1'} <= set(groups)
    assert not [name for name in groups if name in ('company_', 'site_', 'tag_')]
    assert set(groups['screenconnect_online']).isdisjoint(groups['screenconnect_offline'])
    assert len(groups['screenconnect_online']) + len(groups['screenconnect_offline']) == 34
    assert len(groups['os_windows']) + len(groups['os_linux']) + len(groups['os_macos']) == 33  # NEW-00004: none
    print('inventory_screenconnect: the golden list and graph, %d hosts, %d groups' % (len(hostvars), len(groups)))


if __name__ == '__main__':
    main(*sys.argv[1:])
