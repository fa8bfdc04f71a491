"""The session filter language of GetSessionsByFilter (and the JSON-RPC GetSessions string filter).

As real servers take it: Field op value combined with AND, OR, NOT and parentheses; values in
single or double quotes (a quote doubled inside) or numbers; LIKE with * or % as the wildcard
(_ is an ordinary character); Field [NOT] IN (v1, v2, ...). Property names: SessionID, Name, Host,
Code, SessionType, IsPublic, IsEnded, CustomProperty1..8, GuestConnectedCount,
HostConnectedCount, the session's event times and the flat Guest* names (GuestMachineName,
GuestMachineSerialNumber, ...), matched without regard to case."""

import re

from .fleet import GUEST_KEYS, GUEST_TIME_KEYS, REAL_TYPES, fmt_time, public_address


class FilterError(ValueError):
    pass


TOKEN_RE = re.compile(r"""\s*(?:
    (?P<string>'(?:[^']|'')*'|"(?:[^"]|"")*")
  | (?P<number>-?\d+(?:\.\d+)?)
  | (?P<op><>|!=|>=|<=|=|<|>)
  | (?P<paren>[(),])
  | (?P<word>[A-Za-z_][A-Za-z0-9_.]*)
  | (?P<bad>\S)
)""", re.VERBOSE)

KEYWORDS = {'AND', 'OR', 'NOT', 'LIKE', 'IN', 'TRUE', 'FALSE', 'NULL'}


def tokenize(text):
    tokens = []
    pos = 0
    text = text.rstrip()
    while pos < len(text):
        m = TOKEN_RE.match(text, pos)
        if not m or m.end() == pos:
            break
        pos = m.end()
        kind = m.lastgroup
        value = m.group(kind)
        where = m.start(kind) + 1
        if kind == 'bad':
            if value in ('"', "'"):
                raise FilterError('unterminated string starting at position %d' % where)
            raise FilterError("unexpected character '%s' at position %d" % (value, where))
        if kind == 'string':
            value = value[1:-1].replace(value[0] * 2, value[0])
        elif kind == 'number':
            value = float(value) if '.' in value else int(value)
        elif kind == 'word' and value.upper() in KEYWORDS:
            kind, value = 'kw', value.upper()
        tokens.append((kind, value, where))
    return tokens


def _custom_property_getter(k):
    return lambda s: s.cps[k]


def _guest_time_getter(k):
    return lambda s: fmt_time(s.guest[k])


def _guest_getter(k):
    return lambda s: s.guest[k]


def _field_getters():
    getters = {
        'SessionID': lambda s: s.sid,
        'Name': lambda s: s.name,
        'Host': lambda s: s.host,
        'Code': lambda s: s.code,
        'IsPublic': lambda s: s.is_public,
        'IsEnded': lambda s: s.is_ended,
        'GuestConnectedCount': lambda s: s.guest_count(),
        'HostConnectedCount': lambda s: sum(1 for c in s.conns if c['ProcessType'] == 1),
        'GuestInfoUpdateTime': lambda s: fmt_time(s.info_time),
        'LastGuestConnectedEventTime': lambda s: fmt_time(s.conn_time),
        'LastGuestDisconnectedEventTime': lambda s: fmt_time(s.disc_time),
    }
    for n in range(8):
        getters['CustomProperty%d' % (n + 1)] = _custom_property_getter(n)
    for key in GUEST_KEYS:
        if key in GUEST_TIME_KEYS:
            getters['Guest' + key] = _guest_time_getter(key)
        else:
            getters['Guest' + key] = _guest_getter(key)
    getters['GuestNetworkAddress'] = public_address
    return getters


FIELD_GETTERS = _field_getters()
FIELDS_LOWER = {name.lower(): name for name in list(FIELD_GETTERS) + ['SessionType']}


def like_regex(pattern):
    """LIKE as real servers take it: * and % match any run of characters; _ is itself."""
    out = []
    for ch in pattern:
        if ch in '%*':
            out.append('.*')
        else:
            out.append(re.escape(ch))
    return re.compile(''.join(out), re.IGNORECASE | re.DOTALL)


def _cmp(op, a, b):
    if op == '=':
        return a == b
    if op in ('<>', '!='):
        return a != b
    if op == '>':
        return a > b
    if op == '<':
        return a < b
    if op == '>=':
        return a >= b
    return a <= b


class FilterParser:
    """Recursive descent: expr := and (OR and)*; and := unary (AND unary)*;
    unary := NOT unary | '(' expr ')' | Field op value."""

    def __init__(self, text, numbering):
        self.text = text
        self.tokens = tokenize(text)
        self.pos = 0
        self.numbering = numbering

    def peek(self, offset=0):
        i = self.pos + offset
        return self.tokens[i] if i < len(self.tokens) else (None, None, len(self.text) + 1)

    def take(self):
        tok = self.peek()
        self.pos += 1
        return tok

    def parse(self):
        if not self.tokens:
            raise FilterError('the session filter is empty')
        node = self.parse_or()
        kind, value, where = self.peek()
        if kind is not None:
            raise FilterError("unexpected '%s' at position %d" % (value, where))
        return node

    def parse_or(self):
        parts = [self.parse_and()]
        while self.peek()[:2] == ('kw', 'OR'):
            self.take()
            parts.append(self.parse_and())
        if len(parts) == 1:
            return parts[0]
        return lambda s: any(p(s) for p in parts)

    def parse_and(self):
        parts = [self.parse_unary()]
        while self.peek()[:2] == ('kw', 'AND'):
            self.take()
            parts.append(self.parse_unary())
        if len(parts) == 1:
            return parts[0]
        return lambda s: all(p(s) for p in parts)

    def parse_unary(self):
        kind, value, where = self.peek()
        if (kind, value) == ('kw', 'NOT'):
            self.take()
            inner = self.parse_unary()
            return lambda s: not inner(s)
        if (kind, value) == ('paren', '('):
            self.take()
            inner = self.parse_or()
            kind, value, where = self.take()
            if (kind, value) != ('paren', ')'):
                raise FilterError("expected ')' at position %d" % where)
            return inner
        return self.parse_comparison()

    def parse_comparison(self):
        kind, value, where = self.take()
        if kind is None:
            raise FilterError('unexpected end of the filter, expected a property name')
        if kind != 'word':
            raise FilterError("expected a property name at position %d, got '%s'" % (where, value))
        field = FIELDS_LOWER.get(value.lower())
        if field is None:
            raise FilterError("unknown property '%s' at position %d" % (value, where))
        kind, op, where = self.take()
        negate = False
        if (kind, op) == ('kw', 'NOT'):
            kind, op, where = self.take()
            if (kind, op) not in (('kw', 'LIKE'), ('kw', 'IN')):
                raise FilterError("expected LIKE or IN after NOT at position %d" % where)
            negate = True
        if (kind, op) == ('kw', 'IN'):
            tests = [self.compile(field, '=', literal, vkind) for literal, vkind in self.parse_list()]
            return (lambda s: not any(t(s) for t in tests)) if negate else (lambda s: any(t(s) for t in tests))
        if kind == 'kw' and op == 'LIKE':
            op = 'NOT LIKE' if negate else 'LIKE'
        elif kind != 'op':
            raise FilterError("expected a comparison operator after '%s' at position %d" % (field, where))
        literal, vkind = self.parse_value()
        return self.compile(field, op, literal, vkind)

    def parse_value(self):
        vkind, literal, where = self.take()
        if vkind == 'kw' and literal in ('TRUE', 'FALSE'):
            vkind, literal = 'number', 1 if literal == 'TRUE' else 0
        if vkind not in ('string', 'number'):
            raise FilterError("expected a quoted string or a number at position %d" % where)
        return literal, vkind

    def parse_list(self):
        """( value [, value]... ) after IN."""
        kind, value, where = self.take()
        if (kind, value) != ('paren', '('):
            raise FilterError("expected '(' after IN at position %d" % where)
        values = [self.parse_value()]
        while self.peek()[:2] == ('paren', ','):
            self.take()
            values.append(self.parse_value())
        kind, value, where = self.take()
        if (kind, value) != ('paren', ')'):
            raise FilterError("expected ',' or ')' in the IN list at position %d" % where)
        return values

    def compile(self, field, op, literal, vkind):
        if field == 'SessionType':
            names = self.numbering
            if vkind == 'number':
                by_number = {v: k for k, v in names.items()}
                target = by_number.get(literal)
            else:
                target = {k.lower(): k for k in names}.get(literal.lower())
            if op in ('LIKE', 'NOT LIKE'):
                rx = like_regex(str(literal))
                want = op == 'LIKE'
                return lambda s: bool(rx.fullmatch(s.stype)) == want
            if op in ('=', '<>', '!='):
                eq = op == '='
                return lambda s: (s.stype == target) == eq
            rank = names.get(target, literal if vkind == 'number' else -1)
            return lambda s: _cmp(op, names[s.stype], rank)
        getter = FIELD_GETTERS[field]
        if op in ('LIKE', 'NOT LIKE'):
            rx = like_regex(str(literal))
            want = op == 'LIKE'
            return lambda s: bool(rx.fullmatch(str(getter(s)))) == want
        if field in ('IsPublic', 'IsEnded'):
            if vkind == 'string':
                if literal.lower() not in ('true', 'false', '1', '0'):
                    raise FilterError("'%s' is not a boolean for %s" % (literal, field))
                target = literal.lower() in ('true', '1')
            else:
                target = bool(literal)
            return lambda s: _cmp(op, int(getter(s)), int(target))
        numeric = field in ('GuestConnectedCount', 'HostConnectedCount', 'GuestProcessorVirtualCount',
                            'GuestSystemMemoryTotalMegabytes', 'GuestSystemMemoryAvailableMegabytes')
        if numeric:
            try:
                target = float(literal)
            except ValueError:
                raise FilterError("'%s' is not a number for %s" % (literal, field))
            return lambda s: _cmp(op, getter(s), target)
        target = str(literal).casefold()
        if op == '=':
            return lambda s: getter(s).casefold() == target
        return lambda s: _cmp(op, getter(s).casefold(), target)


def compile_filter(text, numbering=None):
    if numbering is None:
        numbering = REAL_TYPES
    return FilterParser(text, numbering).parse()


def match_every_session(_session):
    return True
