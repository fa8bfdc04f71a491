# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The best floor of benchmarks/bench_inventory.py: json_floor plus the marking trick of a good plugin."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r'''
name: best_floor
short_description: Benchmark best floor, the same hosts, hostvars and groups from a local JSON file, marked once
description:
  - "Reads C({\"hosts\": [[name, hostvars, groups], ...]}) (already normalized sessions, as json_floor does) and
    adds them with no HTTP and no Jinja. Each distinct string is marked once, the way the export must show
    it: on ansible-core 2.19+ trusted (unless it could be a template) and tagged with the Origin of the
    inventory wrapper, so ansible-core stores it as it is; before 2.19 template-like text wrapped unsafe."
  - What a plugin that already holds its hosts in memory must at least pay; it reads nothing of this collection.
options:
  plugin:
    description: Must be C(best_floor).
    required: true
    choices: [best_floor]
  path:
    description: The JSON file.
    type: path
    required: true
'''

import json

from ansible.plugins.inventory import BaseInventoryPlugin

from ansible.utils.unsafe_proxy import wrap_var

try:  # ansible-core 2.19+
    from ansible.template import trust_as_template
except ImportError:
    trust_as_template = None


def _template_like(text):
    return '{' in text or '}' in text or text.startswith('#jinja2:')


class InventoryModule(BaseInventoryPlugin):

    NAME = 'best_floor'

    def verify_file(self, path):
        return str(path).endswith('best_floor.yml') and super(InventoryModule, self).verify_file(path)

    def parse(self, inventory, loader, path, cache=True):
        super(InventoryModule, self).parse(inventory, loader, path, cache)
        self._read_config_data(path)
        with open(self.get_option('path'), 'rb') as handle:
            data = json.loads(handle.read())
        origin = getattr(inventory, '_default_origin', None)
        memo = {}

        def text(value):
            marked = memo.get(value)
            if marked is None:
                if trust_as_template is None:
                    marked = wrap_var(value) if _template_like(value) else value
                else:
                    marked = value if _template_like(value) else trust_as_template(value)
                    if origin is not None:
                        marked = origin.tag(marked)
                memo[value] = marked
            return marked

        def mark(value):
            kind = type(value)
            if kind is str:
                return text(value)
            if kind is dict:
                return dict((key, mark(item)) for key, item in value.items())
            if kind is list:
                return [mark(item) for item in value]
            return value

        known = set()
        for name, hostvars, groups in data['hosts']:
            inventory.add_host(name)
            for var, value in hostvars.items():
                inventory.set_variable(name, var, mark(value))
            for group in groups:
                if group not in known:
                    inventory.add_group(group)
                    known.add(group)
                inventory.add_child(group, name)
