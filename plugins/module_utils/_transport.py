# -*- coding: utf-8 -*-
# Copyright: msp.screenconnect contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""What every request to a ScreenConnect server goes through, whichever API it belongs to: the shared
rate limit, retries by safety, one overall deadline, no redirects, secrets masked out of every
message, answers parsed as untrusted data, and one error type (ScreenConnectError) for any failure.

The API classes (_rest_api.py, _session_manager_api.py) build URLs, headers and bodies; the client
(_client.py) chooses one of them.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import json
import math
import os
import random
import re
import time

try:
    from http.client import HTTPException
except ImportError:  # pragma: no cover - Python 3 only
    HTTPException = OSError

try:
    import requests
    from urllib3.exceptions import HTTPError as Urllib3Error
    HAS_REQUESTS = True
    REQUESTS_IMPORT_ERROR = None
except ImportError as exc:  # pragma: no cover - reported by the module or plugin
    requests = None
    Urllib3Error = OSError
    HAS_REQUESTS = False
    REQUESTS_IMPORT_ERROR = exc

_RETRY_AFTER_CAP = 300.0
_BACKOFF_CAP = 30.0
# A 500 on a read is mostly a bad filter or argument, which fails the same way every time:
# one more try after this pause, not the backoff of a server that is down.
_READ_FAULT_PAUSE = 1.0
# How much of a server's own message an error quotes.
_SERVER_MESSAGE_LENGTH = 300
_LOCATION_LENGTH = 200
# A run of this many characters of a secret is masked wherever it appears, so a server that echoes
# part of a secret (or a message cut inside one) cannot leak it. Six characters of a random secret
# tell an attacker next to nothing, and normal words rarely match one by chance (masking too much
# is harmless).
MIN_SECRET_FRAGMENT = 6
MASK = '********'
_READ_CHUNK = 65536
_JSON_TYPE_NAMES = {dict: 'object', list: 'list', str: 'string', int: 'number', float: 'number', bool: 'boolean',
                    type(None): 'null'}


def _collection_version():
    """The version of the installed collection (MANIFEST.json) or of a checkout (galaxy.yml), read
    from beside this package; None when neither is reachable (a module runs from AnsiballZ's zip)."""
    root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    try:
        with open(os.path.join(root, 'MANIFEST.json'), encoding='utf-8') as handle:
            return str(json.load(handle)['collection_info']['version'])
    except (OSError, ValueError, KeyError, TypeError):
        pass
    try:
        with open(os.path.join(root, 'galaxy.yml'), encoding='utf-8') as handle:
            match = re.search(r'^version:\s*[\'"]?([^\s\'"#]+)', handle.read(), re.M)
        return match.group(1) if match else None
    except OSError:
        return None


COLLECTION_VERSION = _collection_version()
USER_AGENT = 'msp.screenconnect/%s' % COLLECTION_VERSION if COLLECTION_VERSION else 'msp.screenconnect'


class ScreenConnectError(Exception):
    """Any failure talking to the server: what was called, what came back, and what to do.

    The message is fixed when the error is made: str(), .message and to_result() always agree."""

    def __init__(self, message, status=None, method=None, server_message=None, may_have_run=False,
                 missing_method=None):
        super(ScreenConnectError, self).__init__(message)
        self.status = status
        self.method = method
        self.server_message = server_message
        # True when a write may have reached the server although no answer says so.
        self.may_have_run = may_have_run
        # The method the server's extension lacks ('Web method does not exist'), else None.
        self.missing_method = missing_method

    @property
    def message(self):
        return self.args[0]

    def __str__(self):
        return self.message

    def to_result(self):
        return {'msg': self.message, 'status': self.status, 'method': self.method,
                'server_message': self.server_message, 'may_have_run': self.may_have_run}


def json_type_name(value):
    return _JSON_TYPE_NAMES.get(type(value), type(value).__name__)


def expect_list(answer, label, what='sessions'):
    """A listing's answer: a list; an empty body or null is an empty list; anything else is an error
    (a proxy or a changed API answering 200 must not look like an empty fleet)."""
    if answer is None:
        return []
    if not isinstance(answer, list):
        raise ScreenConnectError('%s: expected a list of %s, got %s' % (label, what, json_type_name(answer)), method=label)
    return answer


def _retry_after_seconds(response):
    value = response.headers.get('Retry-After')
    try:
        seconds = float(value)
    except (TypeError, ValueError):
        return None
    return None if math.isnan(seconds) else min(max(seconds, 0.0), _RETRY_AFTER_CAP)


class ApiBase:
    """What both APIs share: each refuses the other one's methods without a request."""

    name = None

    def __init__(self, transport, options):
        self.transport = transport
        self.options = options

    def call(self, method, arguments=(), safe=None):
        raise ScreenConnectError("%s is a RESTful API Manager method; set api: rest to call it" % method, method=method)

    def rpc(self, method, params=None, safe=None):
        raise ScreenConnectError('%s is a Session Manager method; set api: session_manager to call it' % method,
                                 method=method)


class _DeadlinePassed(Exception):
    """The answer did not arrive in full within timeout."""


class Transport:
    """Sends requests to one server; all failures are ScreenConnectError."""

    def __init__(self, server_url, timeout, retries, verify, limiter, http=None, backoff_base=1.0, sleep=time.sleep,
                 secrets=(), warnings=None):
        self.server_url = server_url
        self.timeout = float(timeout)
        self.retries = int(retries)
        self.verify = verify
        self.limiter = limiter
        self.backoff_base = backoff_base
        self._sleep = sleep
        self._secrets = [secret for secret in secrets if secret]
        # Counters a module or benchmark can report.
        self.stats = {'requests': 0, 'retries': 0, 'rate_limited': 0, 'waited': 0.0}
        self.warnings = [] if warnings is None else warnings
        # Anything with requests.Session's request(method, url, **kwargs) and headers; tests pass a fake.
        self.http = http if http is not None else requests.Session()
        self.http.headers['User-Agent'] = USER_AGENT

    # ---- secrets never leave ---------------------------------------------------------------
    def add_secret(self, secret):
        if secret:
            self._secrets.append(secret)

    def redact(self, text):
        """text without any secret, nor any run of MIN_SECRET_FRAGMENT characters of one."""
        text = '' if text is None else str(text)
        secrets = sorted(set(self._secrets), key=len, reverse=True)
        for secret in secrets:
            text = text.replace(secret, MASK)
        fragments = set()
        for secret in secrets:
            fragments.update(secret[index:index + MIN_SECRET_FRAGMENT]
                             for index in range(len(secret) - MIN_SECRET_FRAGMENT + 1))
        if not fragments:
            return text
        masked = [False] * len(text)
        for index in range(len(text) - MIN_SECRET_FRAGMENT + 1):
            if text[index:index + MIN_SECRET_FRAGMENT] in fragments:
                masked[index:index + MIN_SECRET_FRAGMENT] = [True] * MIN_SECRET_FRAGMENT
        if not any(masked):
            return text
        out = []
        for index, char in enumerate(text):
            if not masked[index]:
                out.append(char)
            elif index == 0 or not masked[index - 1]:
                out.append(MASK)
        return ''.join(out)

    def clip(self, text, length):
        """Mask first, then cut: a cut can never leave part of a secret behind."""
        text = self.redact(text)
        return text if len(text) <= length else text[:length] + '...'

    def error(self, message, server_message=None, **kwargs):
        return ScreenConnectError(self.redact(message), server_message=self.redact(server_message)
                                  if server_message is not None else None, **kwargs)

    # ---- one logical request ---------------------------------------------------------------
    def send(self, http_method, url, label, safe, api, **kwargs):
        """One logical request with rate limiting and retries; returns parsed JSON or None.

        `safe` says the request may be repeated. 429 and 503 mean the server did not take the
        request, so anything is retried after Retry-After. 500/502/504, timeouts and dropped
        connections are retried only when safe: a command, message, note, create or update may
        already have been carried out, and sending it again could run a command twice.
        `api` (RestApi or SessionManagerApi) words the advice for its own refusals (status_advice).
        """
        attempt = 0
        read_faults = 0
        while True:
            waited = self.limiter.acquire()
            self.stats['waited'] += waited
            self.stats['requests'] += 1
            exhausted = attempt >= self.retries
            answer, error = self._attempt(http_method, url, label, safe, api, exhausted, **kwargs)
            if error is None:
                return answer
            if error.status == 429:
                self.stats['rate_limited'] += 1
            if error.status in (429, 503):
                # Tell every fork, not just this process, to hold back.
                self.limiter.pause(error.retry_after if error.retry_after is not None else self._backoff(attempt))
            if not error.retryable or exhausted:
                raise error
            if error.status == 500:
                read_faults += 1
                if read_faults > 1:
                    raise error
            attempt += 1
            self.stats['retries'] += 1
            if error.status not in (429, 503):  # those wait in limiter.acquire(), paused above
                delay = _READ_FAULT_PAUSE if error.status == 500 else self._backoff(attempt - 1)
                self.stats['waited'] += delay
                self._sleep(delay)

    def _attempt(self, http_method, url, label, safe, api, exhausted, **kwargs):
        """One HTTP request: (parsed answer, None), or (None, the ScreenConnectError it ends in, marked retryable)."""
        deadline = time.monotonic() + self.timeout
        try:
            # No redirect is followed: one could carry the secret to another scheme, host or port.
            response = self.http.request(http_method, url, timeout=self.timeout, verify=self.verify,
                                         allow_redirects=False, stream=True, **kwargs)
        except requests.exceptions.ConnectTimeout as exc:
            # Nothing was sent: safe to try again whatever the request is.
            return _retryable(self._transport_error(label, 'could not connect (timeout)', type(exc).__name__, True), True)
        except requests.exceptions.SSLError as exc:
            reason = _ssl_reason(exc)
            verify_failed = reason.startswith('certificate verify failed')  # in the handshake: nothing sent
            return _retryable(self.error(
                '%s: the TLS certificate of %s could not be verified (%s): give its CA in ca_path, '
                'or set validate_certs: false for a test server' % (label, self.server_url, reason)
                if verify_failed else '%s to %s failed: TLS error (%s)' % (label, self.server_url, reason),
                method=label, may_have_run=not safe and not verify_failed), False)
        # Anything a request may raise, requests' own types and those below them: none escapes as itself.
        except (requests.exceptions.RequestException, HTTPException, Urllib3Error, OSError, ValueError) as exc:
            what = ('no answer within %ss or connection lost' % self.timeout if _is_connection_failure(exc)
                    else 'the answer was unreadable')
            return _retryable(self._transport_error(label, what, type(exc).__name__, safe), safe)
        # The server has the request from here on: whatever breaks, a write may have run.
        try:
            status = response.status_code
            body = _read_body(response, deadline)
        except _DeadlinePassed:
            error = self._transport_error(label, 'no complete answer within %ss' % self.timeout, 'timeout', safe)
            return _retryable(error, safe)
        except (requests.exceptions.RequestException, HTTPException, Urllib3Error, OSError, ValueError,
                RecursionError) as exc:
            return _retryable(self._transport_error(label, 'the answer was cut short or unreadable', type(exc).__name__,
                                                    safe), safe)
        finally:
            if hasattr(response, 'close'):
                response.close()
        if 200 <= status < 300:
            try:
                return self._parse(body, response, label), None
            except ScreenConnectError as error:
                # A write the server answered 2xx was carried out, whatever its body says.
                if not safe:
                    error.may_have_run = True
                raise error
        if 300 <= status < 400:
            return _retryable(self._redirect_error(response, label, safe), False)
        error = self._http_error(response, body, label, safe, api, exhausted)
        if status in (429, 503):
            # The server did not take the request: anything may be sent again.
            return _retryable(error, True, _retry_after_seconds(response))
        return _retryable(error, safe and status in (500, 502, 504) and not error.missing_method)

    def _backoff(self, attempt):
        # Exponential with full jitter, so forks that failed together do not retry together.
        return random.uniform(0, min(_BACKOFF_CAP, self.backoff_base * (2 ** attempt)))

    def _transport_error(self, label, what, cause, safe):
        # A request that never left (connect timeout) says so through safe=True.
        message = '%s to %s failed: %s (%s)' % (label, self.server_url, what, cause)
        if not safe:
            message += '; the server may have received it, so it was not sent again'
        return self.error(message, method=label, may_have_run=not safe)

    def _redirect_error(self, response, label, safe):
        location = self.clip(response.headers.get('Location') or '(no Location)', _LOCATION_LENGTH)
        message = ('%s failed: HTTP %d %s redirects to %s; redirects are not followed, so no secret leaves %s: '
                   'set server_url (or oauth_token_url) to the address that answers the API itself'
                   % (label, response.status_code, _reason(response), location, self.server_url))
        # The server got the request; a write may have been done before it redirected (303 See Other).
        return self.error(message, status=response.status_code, method=label, may_have_run=not safe)

    def _parse(self, body, response, label):
        content_type = _header(response, 'Content-Type')
        if not body.strip() or body.strip() == b'null':
            return None  # void methods answer an empty body (some servers send null)
        where = self.clip(getattr(response, 'url', None) or self.server_url, _LOCATION_LENGTH)
        if 'html' in content_type.lower() or body.lstrip()[:1] == b'<':
            raise self.error(
                '%s: expected JSON, got %s from %s: a login, proxy or error page answered instead of the '
                'API; check server_url and that the RESTful API Manager extension is installed'
                % (label, self.clip(content_type, 80) or 'text', where), status=response.status_code, method=label)
        try:
            return json.loads(body.decode('utf-8-sig'))
        except RecursionError:
            raise self.error('%s: the JSON from %s is nested too deeply to read (%d bytes)' % (label, where, len(body)),
                             status=response.status_code, method=label)
        except ValueError:
            raise self.error('%s: malformed JSON from %s (%d bytes, %s)'
                             % (label, where, len(body), self.clip(content_type, 80) or 'no content type'),
                             status=response.status_code, method=label)

    def _http_error(self, response, body, label, safe, api, exhausted):
        status = response.status_code
        server_message = self.clip(_server_message(body, _header(response, 'Content-Type')), _SERVER_MESSAGE_LENGTH)
        # The API's own advice (401, 403, 404, a missing method) first, else the transport's.
        advice, missing = api.status_advice(status, label, server_message)
        if not advice:
            advice = _status_advice(status, safe)
        if status == 429 and exhausted:
            # Part of the message from the start: str(), .message and to_result() all carry it.
            advice += '; still rate limited after %d retries: lower rate_limit or raise retries' % self.retries
        message = '%s failed: HTTP %d %s' % (label, status, _reason(response))
        if server_message:
            message += ': %s' % server_message
        if advice:
            message += ' (%s)' % advice
        return self.error(message, status=status, method=label, server_message=server_message,
                          may_have_run=status in (500, 502, 504) and not safe and not missing, missing_method=missing)


def _status_advice(status, safe):
    if status == 429:
        return 'rate limited by the server'
    if status in (500, 502, 504) and not safe:
        return 'the server may have carried it out already, so it was not sent again'
    if status == 500:
        return 'a bad filter or a wrong argument answers 500 too'
    return ''


def _retryable(error, retryable, retry_after=None):
    error.retryable = retryable
    error.retry_after = retry_after
    return None, error


def _header(response, name):
    value = response.headers.get(name)
    return value if isinstance(value, str) else ''


def _reason(response):
    reason = getattr(response, 'reason', None)
    return reason[:80] if isinstance(reason, str) else ''


def _read_body(response, deadline):
    """The whole body, decoded as its Content-Encoding says (gzip, deflate: a server or proxy may
    compress JSON), or _DeadlinePassed once the overall deadline is gone. read1 returns after at
    most one read of the socket, so a body trickled a byte at a time cannot outlast the deadline."""
    read1 = getattr(getattr(response, 'raw', None), 'read1', None)
    if read1 is None:  # an older urllib3 (no read1), or a test's fake answer
        return response.content
    chunks = []
    while True:
        if time.monotonic() > deadline:
            raise _DeadlinePassed()
        chunk = read1(_READ_CHUNK, decode_content=True)
        if not chunk:
            return b''.join(chunks)
        chunks.append(chunk)


def _is_connection_failure(exc):
    if requests is not None and isinstance(exc, (requests.exceptions.ConnectionError, requests.exceptions.Timeout)):
        return True
    return isinstance(exc, (OSError,)) and not isinstance(exc, HTTPException)


def _ssl_reason(exc):
    text = str(exc)
    match = re.search(r'certificate verify failed: ([^(\])\'"]+)', text)
    return 'certificate verify failed: %s' % match.group(1).strip() if match else type(exc).__name__


def _server_message(body, content_type):
    text = body.decode('utf-8', 'replace').strip()
    if not text:
        return ''
    if 'html' in content_type.lower() or text.startswith('<'):
        title = re.search(r'<title>(.*?)</title>', text, re.I | re.S)
        return 'an HTML page%s' % (' titled %r' % title.group(1).strip()[:100] if title else '')
    try:
        data = json.loads(text)
    except (ValueError, RecursionError):
        return text
    if isinstance(data, dict):
        for key in ('error_description', 'message', 'Message', 'error', 'ExceptionMessage'):
            if data.get(key):
                return rpc_error_text(data[key])
    return text


def rpc_error_text(error):
    if isinstance(error, dict):
        return str(error.get('message') or error.get('Message') or error)
    return str(error)
