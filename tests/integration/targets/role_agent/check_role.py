"""Checks what runme.sh collected: python check_role.py WORK_DIR SIMULATOR_URL INSTANCE_ID."""

import json
import os
import re
import sys

from ansible.release import __version__ as ansible_core_version

ANSIBLE_CORE = tuple(int(part) for part in ansible_core_version.split('.')[:2])


def recap(stdout, host):
    match = re.search(r'^%s\s*:\s*ok=(\d+)\s+changed=(\d+)\s+unreachable=(\d+)\s+failed=(\d+)' % re.escape(host),
                      stdout, re.M)
    assert match, stdout
    return dict(zip(('ok', 'changed', 'unreachable', 'failed'), (int(n) for n in match.groups())))


def main(work, url, instance_id):
    def out(name):
        with open(os.path.join(work, name + '.out'), encoding='utf-8') as handle:
            return handle.read()

    present = out('present')
    # rhel-01 has dnf, centos7-01 yum (pretended ansible_facts.pkg_mgr): the same Red Hat path
    for host, ext in (('mac-01', 'pkg'), ('rhel-01', 'rpm'), ('centos7-01', 'rpm')):
        assert recap(present, host)['changed'] == 1 and recap(present, host)['failed'] == 0, present
        assert recap(present, host)['unreachable'] == 0, present
        expected = '%s/Bin/ScreenConnect.ClientSetup.%s?e=Access&y=Guest&t=%s&c=Acme&c=&c=' % (url, ext, host)
        assert 'Would install the agent from %s' % expected in present, present

    # with the instance id known, macOS looks for its LaunchDaemon, Red Hat asks rpm (not installed
    # here, so both would install)
    known = out('known')
    assert 'Look for the LaunchDaemon of connectwisecontrol-%s' % instance_id in known, known
    assert 'Query rpm for connectwisecontrol-%s' % instance_id in known, known
    for host in ('rhel-01', 'centos7-01'):
        assert recap(known, host)['changed'] == 1 and recap(known, host)['failed'] == 0, known

    # absent walks the removal steps of macOS; Red Hat removes with the package manager the host
    # has (library/ stands in for dnf and yum). yum is one on ansible-core 2.16 (EL7) only: later
    # releases have no yum module, and their pkg_mgr fact says dnf where /usr/bin/yum is dnf.
    absent = out('absent')
    assert 'pkgutil' in absent or 'Package receipts' in absent, absent
    managers = {'rhel-01': 'dnf', 'centos7-01': 'yum'} if ANSIBLE_CORE < (2, 17) else {'rhel-01': 'dnf'}
    for manager in managers.values():
        assert 'pretend %s: absent connectwisecontrol-%s' % (manager, instance_id) in absent, absent

    with open(os.path.join(work, 'stats.json'), encoding='utf-8') as handle:
        assert sum(json.load(handle)['downloads'].values()) == 0  # check mode downloads nothing
    print('role_agent: macOS and Red Hat paths in check mode on ansible-core %s' % ansible_core_version)


if __name__ == '__main__':
    main(*sys.argv[1:])
