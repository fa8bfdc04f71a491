"""Switchable faults and the rate limit (how the simulated server says no), and the variations:
ways real servers differ from one another (docs/screenconnect-api.md, section 7), each switched on by name."""

import math
import time

FAULT_KINDS = ('status', 'after', 'html', 'slow', 'malformed', 'reset', 'truncate')

# name -> what the server then does. Simulator(variations=[...]), configure(variations=[...]),
# POST /_sim/config {"variations": [...]}, or --variation NAME on the command line.
VARIATIONS = {
    'old_extension': 'an older RESTful API Manager: GetSessionsByFilter answers 500 "Web method does not exist"',
    'cmd_echo': 'cmd output (Windows guest, no #!ps) starts with the echoed prompt and command: '
                'C:\\WINDOWS\\system32>hostname',
    'connection_events': 'details carry RanCommand events under the guest connection (Connections[].Events), '
                         'not in the top-level Events',
    'numeric_session_type': 'CreateSession takes SessionType only as a number; a name answers 500',
    'exact_origin': "the Origin must be exactly the server's scheme://host:port (RESTfulAllowedOrigin = its URL)",
    'event_age_ms': 'event Time is a number: milliseconds before the answer (as PageService gives it)',
}
MISSING_IN_OLD_EXTENSION = ('GetSessionsByFilter',)


def check_variations(names):
    """The variation names as a frozenset; ValueError naming the unknown ones."""
    if isinstance(names, str):
        names = [names]
    names = frozenset(names or ())
    unknown = sorted(names - set(VARIATIONS))
    if unknown:
        raise ValueError('unknown variation(s) %s; known: %s' % (', '.join(unknown), ', '.join(sorted(VARIATIONS))))
    return names


class Faults:
    """Fault rules and the token bucket of the Simulator (a mixin)."""

    RATE_JITTER = 0.0  # seconds of arrival jitter the limiter forgives: none, like a plain token bucket

    def set_faults(self, rules):
        checked = []
        for rule in rules or []:
            if not isinstance(rule, dict) or 'kind' not in rule:
                raise ValueError('a fault rule is an object with at least "kind": %r' % (rule,))
            if rule['kind'] not in FAULT_KINDS:
                raise ValueError('unknown fault kind %r' % rule['kind'])
            rule = dict(rule)
            rule.setdefault('method', '*')
            rule.setdefault('times', 1)
            checked.append(rule)
        with self.lock:
            self.faults = checked

    def take_token(self):
        """None when allowed, else the Retry-After seconds."""
        with self.lock:
            if self.rate_limit <= 0:
                return None
            rate = self.rate_limit / 60.0
            now = time.monotonic()
            self.bucket = min(float(self.rate_burst), self.bucket + (now - self.bucket_time) * rate)
            self.bucket_time = now
            # strict by default (RATE_JITTER 0): clients must absorb their own arrival jitter
            if self.bucket >= 1.0 - rate * self.RATE_JITTER:
                self.bucket -= 1.0
                return None
            self.counters['rate_limited'] += 1
            return max(1, int(math.ceil((1.0 - self.bucket) / rate)))

    def take_fault(self, kind_of_request, method):
        with self.lock:
            for rule in self.faults:
                if rule['times'] == 0:
                    continue
                want = rule.get('method', '*')
                if want == '*' or want == method or (want == 'download' and kind_of_request == 'download'):
                    if rule['times'] > 0:
                        rule['times'] -= 1
                    self.counters['faults_applied'] += 1
                    return dict(rule)
            return None
