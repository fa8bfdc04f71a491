"""Checks of the installed collection that no linter makes (tools/ci/lint.sh runs them):

    python tools/ci/check_collection.py <path of the installed msp/screenconnect>

1. Every collection whose modules the roles and playbooks call is declared in galaxy.yml's
   dependencies (read from MANIFEST.json, which is what an installer sees): a user who installs
   the collection into an ansible-core-only execution environment gets only what is declared.
2. galaxy.yml's authors are the one source of the authors: each plugin's and the role's `author`
   says the same.

Needs PyYAML (the linters' venv has it); prints one line per problem and exits 1 if there is any.
"""

import ast
import json
import os
import re
import sys

import yaml

# `namespace.collection.name:` at the start of a task line (a module or action call).
FQCN_TASK = re.compile(r'^[ -]*([a-z][a-z0-9_]*\.[a-z][a-z0-9_]*)\.[a-z][a-z0-9_]*:', re.M)
ALWAYS_THERE = ('ansible.builtin', 'msp.screenconnect')


def yaml_files(root, folders):
    for folder in folders:
        for path, _dirs, names in os.walk(os.path.join(root, folder)):
            for name in sorted(names):
                if name.endswith(('.yml', '.yaml')):
                    yield os.path.join(path, name)


def undeclared_collections(root, manifest):
    declared = set(manifest['collection_info']['dependencies'] or {})
    problems = []
    used = set()
    for path in yaml_files(root, ('roles', 'playbooks')):
        with open(path) as handle:
            names = set(FQCN_TASK.findall(handle.read()))
        used |= names
        for name in sorted(names - declared - set(ALWAYS_THERE)):
            problems.append('%s uses %s, which galaxy.yml does not declare under dependencies'
                            % (os.path.relpath(path, root), name))
    print('collections used: %s; declared: %s' % (', '.join(sorted(used)), ', '.join(sorted(declared)) or 'none'))
    return problems


def plugin_authors(root):
    """(file, author list) of every plugin whose DOCUMENTATION names an author."""
    for path, _dirs, names in os.walk(os.path.join(root, 'plugins')):
        for name in sorted(names):
            if not name.endswith('.py') or name.startswith('_'):
                continue
            with open(os.path.join(path, name)) as handle:
                tree = ast.parse(handle.read())
            for node in tree.body:
                if isinstance(node, ast.Assign) and [getattr(t, 'id', None) for t in node.targets] == ['DOCUMENTATION']:
                    doc = yaml.safe_load(ast.literal_eval(node.value)) or {}
                    if 'author' in doc:
                        yield os.path.relpath(os.path.join(path, name), root), doc['author']


def role_authors(root):
    for role in sorted(os.listdir(os.path.join(root, 'roles'))):
        meta = os.path.join(root, 'roles', role, 'meta')
        with open(os.path.join(meta, 'main.yml')) as handle:
            yield 'roles/%s/meta/main.yml' % role, (yaml.safe_load(handle).get('galaxy_info') or {}).get('author')
        with open(os.path.join(meta, 'argument_specs.yml')) as handle:
            specs = yaml.safe_load(handle)['argument_specs']
        for entry, spec in sorted(specs.items()):
            yield 'roles/%s/meta/argument_specs.yml (%s)' % (role, entry), spec.get('author')


def author_mismatches(root, manifest):
    authors = manifest['collection_info']['authors']
    problems = []
    for where, author in list(plugin_authors(root)) + list(role_authors(root)):
        author = [author] if isinstance(author, str) else author
        if author != authors:
            problems.append('%s: author %r, galaxy.yml says %r' % (where, author, authors))
    return problems


def main(root):
    with open(os.path.join(root, 'MANIFEST.json')) as handle:
        manifest = json.load(handle)
    problems = undeclared_collections(root, manifest) + author_mismatches(root, manifest)
    for problem in problems:
        print(problem, file=sys.stderr)
    return 1 if problems else 0


if __name__ == '__main__':
    sys.exit(main(sys.argv[1]))
