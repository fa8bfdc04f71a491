"""ScreenConnectModule (_module.py): every warning of the client reaches the user exactly once,
also the ones the client adds while it works, after module.client() returned."""

from ansible_collections.msp.screenconnect.plugins.module_utils import _module


class FakeClient:
    def __init__(self):
        self.warnings = ['server_url http://x is plain http']
        self.stats = {'requests': 0, 'retries': 0, 'rate_limited': 0, 'waited': 0.0}


class Exited(Exception):
    pass


def raise_exited(self, **result):
    raise Exited(result)


def bare_module(monkeypatch, client):
    """A ScreenConnectModule without AnsibleModule's argument handling; exit and fail raise Exited."""
    module = _module.ScreenConnectModule.__new__(_module.ScreenConnectModule)
    module.shown = []
    monkeypatch.setattr(_module.AnsibleModule, 'warn', lambda self, warning: self.shown.append(warning))
    monkeypatch.setattr(_module.AnsibleModule, 'exit_json', raise_exited)
    monkeypatch.setattr(_module.AnsibleModule, 'fail_json', raise_exited)
    monkeypatch.setattr(_module._client, 'HAS_REQUESTS', True)
    monkeypatch.setattr(_module._client, 'from_options', lambda get, **kwargs: client)
    module.params = {}
    return module


def test_warnings_added_after_the_client_was_built_are_shown_once(monkeypatch):
    client = FakeClient()
    module = bare_module(monkeypatch, client)
    assert module.client() is client and module.shown == ['server_url http://x is plain http']
    client.warnings.append('session 1: GuestInfoUpdateTime unreadable, left null')
    try:
        module.exit_json(changed=False)
    except Exited:
        pass
    assert module.shown == ['server_url http://x is plain http', 'session 1: GuestInfoUpdateTime unreadable, left null']


def test_a_failure_shows_the_late_warnings_too(monkeypatch):
    client = FakeClient()
    module = bare_module(monkeypatch, client)
    module.client()
    client.warnings.append('skipped a session without a usable SessionID')
    try:
        module.fail_json(msg='boom')
    except Exited as exited:
        assert exited.args[0]['msg'] == 'boom' and 'api_stats' in exited.args[0]
    assert module.shown[-1] == 'skipped a session without a usable SessionID' and len(module.shown) == 2
