"""Reading `ansible-inventory --list` output across ansible-core releases.

test_inventory.py and benchmarks/bench_inventory.py compare outputs with these.
"""


def unwrap(value):
    """Drop the {"__ansible_unsafe": x} markers, to compare outputs of two ansible-core releases."""
    if isinstance(value, dict):
        if set(value) == {'__ansible_unsafe'}:
            return value['__ansible_unsafe']
        return dict((key, unwrap(item)) for key, item in value.items() if key != 'profile')
    if isinstance(value, list):
        return [unwrap(item) for item in value]
    return value
