"""The yum module on the hosts of other_platforms.yml that pretend to be Red Hat: ansible.builtin.package
picks it by the pretended pkg_mgr fact (library/ beside the playbook goes before the real module).
It says what it was asked and changes nothing."""
from ansible.module_utils.basic import AnsibleModule

module = AnsibleModule({'name': {'type': 'list', 'elements': 'str'}, 'state': {}}, supports_check_mode=True)
module.exit_json(changed=False, msg='pretend yum: %s %s' % (module.params['state'], ' '.join(module.params['name'])))
