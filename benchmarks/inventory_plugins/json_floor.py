# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The floor of benchmarks/bench_inventory.py: hosts, hostvars and groups from a local JSON file."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r'''
name: json_floor
short_description: Benchmark floor, the same hosts, hostvars and groups from a local JSON file
description:
  - "Reads C({\"hosts\": [[name, hostvars, groups], ...]}) and adds it with no HTTP and no Jinja: what any
    inventory plugin must at least pay to hand that inventory to ansible-core."
options:
  plugin:
    description: Must be C(json_floor).
    required: true
    choices: [json_floor]
  path:
    description: The JSON file.
    type: path
    required: true
'''

import json

from ansible.plugins.inventory import BaseInventoryPlugin


class InventoryModule(BaseInventoryPlugin):

    NAME = 'json_floor'

    def verify_file(self, path):
        return str(path).endswith('floor.yml') and super(InventoryModule, self).verify_file(path)

    def parse(self, inventory, loader, path, cache=True):
        super(InventoryModule, self).parse(inventory, loader, path, cache)
        self._read_config_data(path)
        with open(self.get_option('path')) as handle:
            data = json.load(handle)
        known = set()
        for name, hostvars, groups in data['hosts']:
            inventory.add_host(name)
            for var, value in hostvars.items():
                inventory.set_variable(name, var, value)
            for group in groups:
                if group not in known:
                    inventory.add_group(group)
                    known.add(group)
                inventory.add_child(group, name)
