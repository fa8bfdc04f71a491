"""The command line: python tools/simulator/screenconnect_sim [options] (or python -m screenconnect_sim)."""

import argparse
import os
import signal
import tempfile
import threading

from .faults import VARIATIONS
from .fleet import SPELLING_ALIASES, SPELLINGS
from .simulator import Simulator


def main(argv=None):
    parser = argparse.ArgumentParser(
        prog='screenconnect_sim',
        description='A ScreenConnect server simulator (REST extension, Session Manager JSON-RPC, '
                    'OAuth, installer downloads) for testing msp.screenconnect. Runs until SIGTERM/SIGINT.',
        epilog='Control endpoints (no auth, not rate limited): GET /_sim/requests, GET /_sim/stats, '
               'POST /_sim/reset, POST /_sim/faults, POST /_sim/config, POST /_sim/sessions, '
               'POST /_sim/revoke-tokens, GET /_sim/sessions/<id>, POST /_sim/sessions/<id>/connect|disconnect, '
               'GET|POST /_sim/triggers (trigger web requests), POST /_sim/fleet/<id>/connect|disconnect|host-connect|end|'
               'rename|properties and POST /_sim/fleet/add (fleet changes that fire them). JSON-RPC: an unknown method answers '
               'HTTP 200 with the error envelope {"code": -32601, "message": "Method not found"}; '
               'GetSession of an unknown id answers HTTP 404 with the envelope.')
    parser.add_argument('--host', default='127.0.0.1', help='address to listen on (default 127.0.0.1)')
    parser.add_argument('--port', type=int, default=0, help='port (default 0 = any free port)')
    parser.add_argument('--port-file', help='write the URL to this file once listening (atomically)')
    parser.add_argument('--sessions', type=int, default=200, help='number of generated sessions (default 200)')
    parser.add_argument('--seed', type=int, default=42,
                        help='random seed of the generated fleet: same seed, same fleet (default 42)')
    parser.add_argument('--spelling', choices=SPELLINGS + tuple(SPELLING_ALIASES), default='nested',
                        help='guest data spelling (docs/screenconnect-api.md, section 3.2): nested (GuestInfo.*, as '
                             'the RESTful API Manager answers), flat (Guest* on the session), mixed '
                             '(GuestInfo.Guest*); "seed" is the old name of mixed')
    parser.add_argument('--rate-limit', type=float, default=0, help='requests per minute, 0 = unlimited')
    parser.add_argument('--rate-burst', type=int, default=30, help='token bucket size (default 30)')
    parser.add_argument('--api-secret', default='s3cret-rest', help='REST CTRLAuthHeader secret')
    parser.add_argument('--api-key', default='k3y-rpc', help='JSON-RPC Bearer API key')
    parser.add_argument('--oauth-client-id', default='cid')
    parser.add_argument('--oauth-client-secret', default='csecret')
    parser.add_argument('--token-ttl', type=float, default=3600, help='OAuth token lifetime in seconds')
    parser.add_argument('--allowed-origin', help='when set, the REST Origin header must equal it (else 403)')
    parser.add_argument('--instance-id', help='16 lower-case hex digits (default derived from --seed)')
    parser.add_argument('--omit-active-connections', action='store_true',
                        help='leave ActiveConnections out of session lists')
    parser.add_argument('--variation', action='append', default=[], choices=sorted(VARIATIONS), metavar='NAME',
                        help='behave like a real server variation (repeatable): %s' % '; '.join(
                            '%s: %s' % item for item in sorted(VARIATIONS.items())))
    parser.add_argument('--command-delay', type=float, default=0.2,
                        help='seconds until a queued command on an online guest shows its RanCommand event')
    parser.add_argument('--max-command-length', type=int, default=0,
                        help='SendCommandToSession refuses longer commands with HTTP 413 (default 0 = no limit)')
    parser.add_argument('--record', help='append each recorded request to this JSON lines file')
    parser.add_argument('--certfile', help='serve HTTPS with this certificate (PEM)')
    parser.add_argument('--keyfile', help='private key of --certfile')
    args = parser.parse_args(argv)
    if bool(args.certfile) != bool(args.keyfile):
        parser.error('--certfile and --keyfile go together')
    try:
        sim = Simulator(sessions=args.sessions, seed=args.seed, spelling=args.spelling, rate_limit=args.rate_limit,
                        rate_burst=args.rate_burst, api_secret=args.api_secret, api_key=args.api_key,
                        oauth_client_id=args.oauth_client_id, oauth_client_secret=args.oauth_client_secret,
                        token_ttl=args.token_ttl, allowed_origin=args.allowed_origin, instance_id=args.instance_id,
                        omit_active_connections=args.omit_active_connections, command_delay=args.command_delay,
                        port=args.port, certfile=args.certfile, keyfile=args.keyfile, host=args.host,
                        record=args.record, variations=args.variation, max_command_length=args.max_command_length)
    except ValueError as error:
        parser.error(str(error))
    sim.start()
    done = threading.Event()

    def stop(signum, frame):
        done.set()

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    print('ScreenConnect simulator listening on %s (%d sessions)' % (sim.url, len(sim.fleet.sessions)), flush=True)
    if args.port_file:
        directory = os.path.dirname(os.path.abspath(args.port_file))
        fd, tmp = tempfile.mkstemp(dir=directory, prefix='.port-')
        with os.fdopen(fd, 'w') as f:
            f.write(sim.url)
        os.replace(tmp, args.port_file)
    while not done.wait(0.5):
        pass
    sim.stop()
    return 0
