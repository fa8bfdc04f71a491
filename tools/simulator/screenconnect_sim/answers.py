"""HTTP answers, the server's fault answers and argument checks shared by both APIs."""

import json

from .fleet import pad_properties


NOT_FOUND_HTML = ('<!DOCTYPE html><html><head><title>The resource cannot be found.</title></head><body>'
                  '<h1>Server Error in \'/\' Application.</h1><h2>The resource cannot be found.</h2>'
                  '<p>HTTP 404. The resource you are looking for has been removed, had its name changed, '
                  'or is temporarily unavailable.</p></body></html>')
LOGIN_HTML = ('<html><head><title>ScreenConnect Login</title></head><body><form method="post" '
              'action="/Login"><input name="UserName"/><input name="Password" type="password"/>'
              '</form></body></html>')


# ---------------------------------------------------------------------------------------------
# answers
# ---------------------------------------------------------------------------------------------

class Answer:
    """One HTTP answer. body: bytes; for JSON pass text through json_answer."""

    def __init__(self, status, body=b'', content_type='text/plain; charset=utf-8', headers=None):
        self.status = status
        self.body = body.encode('utf-8') if isinstance(body, str) else body
        self.content_type = content_type
        self.headers = headers or {}


def json_answer(value, status=200):
    return Answer(status, json.dumps(value, ensure_ascii=False), 'application/json; charset=utf-8')


def raw_json_answer(text, status=200):
    return Answer(status, text, 'application/json; charset=utf-8')


def text_answer(status, text):
    return Answer(status, text, 'text/plain; charset=utf-8')


def html_answer(status, text):
    return Answer(status, text, 'text/html; charset=utf-8')


def void_answer():
    return Answer(200, b'', 'application/json')


class Fault(Exception):
    """An answer from deep inside an API method (500 session manager fault and the like)."""

    def __init__(self, answer):
        Exception.__init__(self)
        self.answer = answer


def sm_fault(detail=None):
    return Fault(text_answer(500, 'session manager fault' + (': %s' % detail if detail else '')))


def properties_arg(values):
    if values is None:
        values = []
    if not isinstance(values, list) or len(values) > 8 or not all(isinstance(v, (str, type(None))) for v in values):
        raise sm_fault('custom property values must be a list of at most 8 strings')
    return pad_properties(values)


def inc(counter, key):
    counter[key] = counter.get(key, 0) + 1


STATUS_TEXT = {429: 'Too many requests', 500: 'Internal server error', 502: 'Bad Gateway',
               503: 'Service Unavailable', 504: 'Gateway Timeout'}
