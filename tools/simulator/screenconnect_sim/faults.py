"""Switchable faults and the rate limit: how the simulated server says no."""

import math
import time

FAULT_KINDS = ('status', 'after', 'html', 'slow', 'malformed', 'reset', 'truncate')


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
