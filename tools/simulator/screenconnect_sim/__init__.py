"""ScreenConnect server simulator for the msp.screenconnect collection (stdlib only).

Run it with ``python tools/simulator/screenconnect_sim [options]`` (``--help`` lists them), or from
Python: ``from screenconnect_sim import Simulator`` with ``tools/simulator`` on ``sys.path``.

The package, one module per concern: fleet (generated sessions, their events, the Session object
in each spelling), filters (the filter language), rest (RESTful API Manager), rpc (JSON-RPC and
OAuth), faults (fault rules, rate limit), installers (downloads, the agent's command output),
simulator (state, configuration, shared session operations), server (HTTP), cli.

A standalone HTTP(S) server on 127.0.0.1 that behaves like a ScreenConnect server, quirks
included. It serves:

REST (RESTful API Manager extension)
    POST /App_Extensions/{extension_id}/Service.ashx/{Method} (also under a path prefix, like
    /control/App_Extensions/...; reads also by GET with the arguments by name in the query)
    auth header ``CTRLAuthHeader: <secret>`` (401 otherwise), ``Origin`` checked when an allowed
    origin is configured (403), body = JSON array of positional arguments (reads also take an
    object of parameter names). Unknown method -> 500 ``Web method does not exist``. Void methods
    answer 200 with an empty body. Another extension id -> 404 HTML page.

Session Manager JSON-RPC (docs/screenconnect-api.md, section 1.2)
    POST /Services/PageService.ashx  {"id": n, "method": M, "params": {...}}
    auth ``Authorization: Bearer <api_key>`` or an OAuth token from
    POST /oauth/token (client credentials form). SessionType uses this API's own numbering
    (1 Support, 2 Access, 3 Meeting). Errors: 401 (auth), 404 (GetSession/GetSessionDetails of an
    unknown session, error envelope), an unknown method answers HTTP 200 with the error envelope
    {"code": -32601, "message": "Method not found"}; bad params answer HTTP 200 with -32602.

Installer downloads
    GET /Bin/{Name}.ClientSetup.{msi,exe,pkg,deb,rpm,sh}?e=Access&y=Guest&t=..&c=..(x8)&h=&p=&k=
    (.deb is a real Debian package built with dpkg-deb, per distinct query, cached.)

Control endpoints for tests (no auth, never rate limited, never recorded)
    GET  /_sim/requests        recorded requests (JSON list)
    GET  /_sim/stats           counters
    POST /_sim/reset           {"fleet": false}: clears requests, counters, faults
    POST /_sim/faults          JSON list of fault rules (replaces the current list)
    POST /_sim/config          {"spelling", "rate_limit", "rate_burst", "omit_active_connections",
                                "allowed_origin", "command_delay", "token_ttl", "variations",
                                "max_command_length"}
    POST /_sim/sessions        add a session: {"name", "machine_name", "custom_properties",
                                "online", "os", "session_type"} -> {"SessionID": id}
    POST /_sim/revoke-tokens   forget every OAuth token issued
    GET  /_sim/sessions/<id>   raw internal state of one session
    POST /_sim/sessions/<id>/connect | /disconnect   the guest comes online (and runs the commands
                               queued while it was offline) or goes offline

Fault rules: {"method": <API method name> | "*" | "download" | "OAuthToken", "kind": K,
"times": n (default 1, -1 forever), ...}; the first matching rule with times left is used.
"*" matches every API request and download. Kinds: status (``status``, ``body``, ``retry_after``;
the action is not performed), after (the action is performed, then ``status``, default 502),
html (200 login page), slow (sleep ``seconds``, then normal), malformed (200 truncated JSON),
reset (socket closed without an answer), truncate (a short body with a lying Content-Length).

Variations (faults.VARIATIONS): ways real servers differ, each on by name through
Simulator(variations=[...]), configure(variations=[...]), POST /_sim/config {"variations": [...]}
or --variation NAME: old_extension (no GetSessionsByFilter), cmd_echo (cmd output starts with
"C:\\WINDOWS\\system32>command"), connection_events (RanCommand under Connections[].Events),
numeric_session_type (CreateSession refuses a type name), exact_origin (Origin must be the
server's own scheme://host:port), event_age_ms (event Time as milliseconds before the answer).

Rate limit: one token bucket over REST, JSON-RPC and /oauth/token requests; 429 with an integer
``Retry-After`` (>= 1) when empty. The bucket is strict (RATE_JITTER = 0): a client must absorb
the jitter of its own requests on the way.

Recorded requests (Simulator.requests, GET /_sim/requests; control endpoints are not recorded):
{"seq", "time", "api": rest|rpc|oauth|download|other, "http_method", "path", "method" (REST/RPC
method name, "OAuthToken", "download"), "args" (REST: the parsed body; RPC: its params; OAuth: the
form with client_secret masked; download: the decoded query with "c" as a list, plus "ext"),
"status" (0 for a reset fault), "headers": {"Origin", "Content-Type", "User-Agent" when sent,
"CTRLAuthHeader": bool, "Authorization": bool}} -- never an auth header value.

Stats (Simulator.stats(), GET /_sim/stats): requests_total, by_api, by_method, by_status, writes
(performed writes per method), rate_limited (429s from the bucket), status_429 (every 429 sent,
faults included), token_issued, downloads (per extension), faults_applied.

Other choices: omit_active_connections leaves ActiveConnections out of every Session object
(lists, by id, the Session of details; details keep their "Connections"); write faults answer
"session manager fault: <detail>"; a command on an online guest gets its RanCommand event
command_delay seconds after it was queued (computed lazily at read time); an offline guest only
gets the QueuedCommand event. A command the collection framed (begin/end markers, base64 stdout
and stderr, exit code) gets the framed answer of its canned output (framing.py), cut by #maxlength
and #timeout as the agent cuts (agent.py). max_command_length (Simulator(), configure(),
--max-command-length; 0 = none) refuses a longer SendCommandToSession with HTTP 413 before
anything is queued. Event times of writes run on a clock that starts at the fleet's
base date (derived from the fleet seed) when the simulator is created.
"""

from .answers import Answer, Fault
from .filters import FilterError, compile_filter
from .fleet import (CLIENT_VERSION, EXTENSION_ID, REAL_TYPES, RPC_TYPES, SPELLINGS, Fleet, Session, fmt_time,
                    render_event, render_session)
from .installers import Installers, command_output
from .simulator import Simulator
from .cli import main

__all__ = ['Answer', 'CLIENT_VERSION', 'EXTENSION_ID', 'Fault', 'FilterError', 'Fleet', 'Installers', 'REAL_TYPES',
           'RPC_TYPES', 'SPELLINGS', 'Session', 'Simulator', 'command_output', 'compile_filter', 'fmt_time', 'main',
           'render_event', 'render_session']
