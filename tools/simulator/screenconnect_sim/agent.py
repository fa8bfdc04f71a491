"""The simulator's ScreenConnect agent: a small real agent for the simulator's .deb.

Installed as /opt/connectwisecontrol-<id>/agent.py and run with python3 (standard library only) by
/etc/init.d/connectwisecontrol-<id>, which the package's postinst starts and its prerm stops, as
the real client's package does. It speaks the simulator's agent protocol (relay.py, not
ScreenConnect's):
- Hello: the session comes online with this host's name, PRETTY_NAME, kernel, address, CPU and
  memory, and the launch parameters the installer carried (ClientLaunchParameters.txt);
- Poll: backstage commands queued for the session run here, each in its own thread, as the real
  agent runs them (docs/screenconnect-api.md, "Commands on the guest"):
  - the directives of the first lines apply: #timeout=<ms> (10 s by default; then the command's
    process group is killed), #maxlength=<chars> (5000 by default), #!ps (PowerShell: pwsh, when
    the host has it);
  - the rest runs from a script file (/bin/sh FILE, pwsh -File FILE.ps1), so a command of any
    length runs (Linux caps one argument at 128 KiB; `sh -c TEXT` would not);
  - stdout and stderr come back as one text; a command cut short ends with the agent's own line:
    `Killed after N milliseconds` (past #timeout) or `Truncated output at N characters` (output
    cut at #maxlength), on a line of its own;
- Bye when the service stops (SIGTERM): the session goes offline.
The session id is generated at the first start and kept in the state directory, by default
/var/lib/connectwisecontrol-<id>/, which the package's purge removes: a reinstall is a new session,
as with the real client.

Without root, as a plain process against any simulator (a test does this):

    mkdir -p /tmp/a && cp agent.py /tmp/a/
    echo '{"server": "http://127.0.0.1:8040", "state_dir": "/tmp/a/state"}' > /tmp/a/agent.json
    python3 /tmp/a/agent.py                # or: python3 agent.py /path/to/agent.json

agent.json: `server` (required), `state_dir` (optional); the config file is agent.json beside
agent.py unless a path is given as the only argument. ClientLaunchParameters.txt and version.txt
beside agent.py are optional. SIGTERM says Bye and stops.
"""

import json
import os
import platform
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
import uuid

HERE = os.path.dirname(os.path.abspath(__file__))
TIMEOUT_MS = 10000
MAXLENGTH = 5000


class Stopped(Exception):
    """SIGTERM: the service is stopping."""


def log(message):
    sys.stderr.write('%s %s\n' % (time.strftime('%Y-%m-%dT%H:%M:%S'), message))
    sys.stderr.flush()


def read(path, default=''):
    try:
        with open(path) as handle:
            return handle.read().strip()
    except OSError:
        return default


def os_release():
    for line in read('/etc/os-release').splitlines():
        key, _sep, value = line.partition('=')
        if key == 'PRETTY_NAME':
            return value.strip().strip('"\'')
    return platform.system()


def meminfo_mb(key):
    for line in read('/proc/meminfo').splitlines():
        if line.startswith(key + ':'):
            return int(line.split()[1]) // 1024
    return 0


def guest_info(server):
    """What the session shows of this host; the address is the one this host reaches the server from."""
    parts = urllib.parse.urlsplit(server)
    probe = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    try:
        probe.connect((parts.hostname, parts.port or 80))
        address = probe.getsockname()[0]
    finally:
        probe.close()
    cpu = [line.split(':', 1)[1].strip() for line in read('/proc/cpuinfo').splitlines() if line.startswith('model name')]
    return {'MachineName': socket.gethostname().split('.')[0], 'OperatingSystemName': os_release(),
            'OperatingSystemVersion': platform.release(), 'PrivateNetworkAddress': address,
            'ProcessorName': cpu[0] if cpu else platform.machine(), 'ProcessorVirtualCount': os.cpu_count() or 1,
            'SystemMemoryTotalMegabytes': meminfo_mb('MemTotal'),
            'SystemMemoryAvailableMegabytes': meminfo_mb('MemAvailable'),
            'MachineSerialNumber': read('/etc/machine-id')[:16], 'MachineDomain': '',
            'LoggedOnUserName': '', 'ClientVersion': read(os.path.join(HERE, 'version.txt'))}


def directives(text):
    """(timeout_ms, maxlength, powershell, the command without its directive lines)."""
    timeout_ms, maxlength, powershell = TIMEOUT_MS, MAXLENGTH, False
    lines = text.replace('\r\n', '\n').split('\n')
    while lines and lines[0].strip().startswith('#'):
        directive = lines[0].strip().lower()
        name, _sep, value = directive.partition('=')
        if name == '#timeout' and value.strip().isdigit():
            timeout_ms = int(value)
        elif name == '#maxlength' and value.strip().isdigit():
            maxlength = int(value)
        elif directive == '#!ps':
            powershell = True
        elif not directive.startswith('#!'):
            break  # a comment of the command itself
        lines.pop(0)
    return timeout_ms, maxlength, powershell, '\n'.join(lines)


def cut_short(output, maxlength, killed_after_ms=None):
    """The output as the agent reports it: cut at maxlength characters, and the agent's own line
    for each cut, each on a line of its own."""
    lines = []
    if len(output) > maxlength:
        output = output[:maxlength]
        lines.append('Truncated output at %d characters' % maxlength)
    if killed_after_ms is not None:
        lines.append('Killed after %d milliseconds' % killed_after_ms)
    if lines and output and not output.endswith('\n'):
        output += '\n'
    return output + ''.join(line + '\n' for line in lines)


def run_command(text, cwd='/'):
    """Run one backstage command as the real agent does on Linux: directives, a script file, limits."""
    timeout_ms, maxlength, powershell, body = directives(text)
    if powershell and not shutil.which('pwsh'):
        return 'PowerShell (pwsh) is not installed on this host'
    workdir = tempfile.mkdtemp(prefix='sc-agent-')
    try:
        script = os.path.join(workdir, 'command.ps1' if powershell else 'command.sh')
        with open(script, 'w', encoding='utf-8') as handle:
            handle.write(body + '\n')
        shell = ['pwsh', '-NoProfile', '-NonInteractive', '-File'] if powershell else ['/bin/sh']
        process = subprocess.Popen(shell + [script], stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                   stderr=subprocess.STDOUT, cwd=cwd, start_new_session=True)
        killed = None
        try:
            output, _err = process.communicate(timeout=timeout_ms / 1000.0)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)  # the command and whatever it started
            output, _err = process.communicate()
            killed = timeout_ms
        return cut_short(output.decode('utf-8', 'replace'), maxlength, killed)
    finally:
        shutil.rmtree(workdir, ignore_errors=True)


class Agent:
    def __init__(self, config_path=None):
        with open(config_path or os.path.join(HERE, 'agent.json')) as handle:
            config = json.load(handle)
        self.server = config['server'].rstrip('/')
        self.launch = read(os.path.join(HERE, 'ClientLaunchParameters.txt'))
        state = config.get('state_dir') or '/var/lib/%s' % os.path.basename(HERE)
        os.makedirs(state, mode=0o700, exist_ok=True)
        path = os.path.join(state, 'session-id')
        self.session_id = read(path)
        if not self.session_id:
            self.session_id = str(uuid.uuid4())
            with open(path, 'w') as handle:
                handle.write(self.session_id + '\n')

    def call(self, action, payload, timeout=10):
        request = urllib.request.Request('%s/Sim/Agent/%s' % (self.server, action), method='POST',
                                         data=json.dumps(payload).encode(),
                                         headers={'Content-Type': 'application/json'})
        with urllib.request.urlopen(request, timeout=timeout) as answer:
            return json.loads(answer.read().decode('utf-8') or '{}')

    def report(self, command):
        output = run_command(command['command'])
        try:
            self.call('Result', {'session_id': self.session_id, 'id': command['id'], 'output': output})
        except (OSError, ValueError) as error:
            log('could not report the output of command %s: %s' % (command['id'], error))

    def serve(self):
        while True:
            try:
                self.call('Hello', {'session_id': self.session_id, 'launch': self.launch,
                                    'guest': guest_info(self.server)})
                log('online as session %s on %s' % (self.session_id, self.server))
                while True:
                    answer = self.call('Poll', {'session_id': self.session_id}, timeout=60)
                    for command in answer.get('commands', []):
                        threading.Thread(target=self.report, args=(command,), daemon=True).start()
            except urllib.error.HTTPError as error:
                # 404: the server forgot this session; say Hello again, without hammering it
                log('server answered %s; saying Hello again' % error)
                time.sleep(1 if error.code == 404 else 5)
            except (OSError, ValueError) as error:
                log('cannot reach %s (%s); trying again in 5 s' % (self.server, error))
                time.sleep(5)

    def bye(self):
        try:
            self.call('Bye', {'session_id': self.session_id}, timeout=5)
        except (OSError, ValueError) as error:
            log('could not say goodbye: %s' % error)


def stop(_signum, _frame):
    raise Stopped()


def main():
    signal.signal(signal.SIGTERM, stop)
    agent = Agent(sys.argv[1] if len(sys.argv) > 1 else None)
    try:
        agent.serve()
    except (Stopped, KeyboardInterrupt):
        agent.bye()
        log('stopped')
    return 0


if __name__ == '__main__':
    sys.exit(main())
