"""Installer downloads (/Bin/*.ClientSetup.*) and what the agent answers to a command."""

import hashlib
import json
import os
import shutil
import subprocess
import tempfile
import threading
import urllib.parse

from .fleet import CLIENT_VERSION


def command_output(session, command):
    lines = command.replace('\r\n', '\n').split('\n')
    maxlength = 5000
    body = []
    directives = True
    for line in lines:
        stripped = line.strip()
        if directives and stripped.startswith('#'):
            low = stripped.lower()
            if low.startswith('#maxlength='):
                try:
                    maxlength = int(low.split('=', 1)[1])
                except ValueError:
                    pass
                continue
            if low.startswith('#timeout=') or low.startswith('#!'):
                continue
        directives = False
        body.append(line)
    outputs = []
    for line in body:
        text = line.strip()
        if not text:
            continue
        word = text.split(None, 1)[0].lower()
        if word == 'hostname' and text.lower() == 'hostname':
            outputs.append(session.guest['MachineName'])
        elif word == 'echo':
            outputs.append(text[5:].strip() if len(text) > 4 else '')
        elif text.lower() == 'whoami':
            outputs.append(session.guest['LoggedOnUserName'])
        else:
            outputs.append('Ran: %s' % text)
    return '\n'.join(outputs)[:max(maxlength, 0)]


# ---------------------------------------------------------------------------------------------
# installers
# ---------------------------------------------------------------------------------------------

# The .deb's service: the real package's name and place (/etc/init.d/connectwisecontrol-<id>), which
# starts the simulator's small agent (agent.py, python3) in the background; stop sends SIGTERM, on
# which the agent tells the server it goes offline.
INIT_SCRIPT = '''#!/bin/sh
### BEGIN INIT INFO
# Provides:          %(name)s
# Required-Start:    $network $remote_fs
# Required-Stop:     $network $remote_fs
# Default-Start:     2 3 4 5
# Default-Stop:      0 1 6
# Short-Description: ScreenConnect Client (%(id)s), the simulator's agent
### END INIT INFO
NAME=%(name)s
PIDFILE=/run/$NAME.pid
running() { start-stop-daemon --status --pidfile "$PIDFILE"; }
case "$1" in
  start)
    if running; then echo "$NAME is running"; exit 0; fi
    echo "Starting $NAME"
    start-stop-daemon --start --quiet --background --make-pidfile --pidfile "$PIDFILE" \\
      --output "/var/log/$NAME.log" --startas /usr/bin/python3 -- "/opt/$NAME/agent.py"
    ;;
  stop)
    echo "Stopping $NAME"
    start-stop-daemon --stop --quiet --pidfile "$PIDFILE" --remove-pidfile --retry TERM/10/KILL/5 || true
    ;;
  restart) "$0" stop && "$0" start ;;
  status)
    if running; then echo "$NAME is running"; else echo "$NAME is not running"; exit 3; fi
    ;;
  *) echo "Usage: $0 {start|stop|status|restart}"; exit 2 ;;
esac
exit 0
'''

# As a Debian package does: enable and start the service after install, stop it before removal,
# forget it (and the agent's session id and log) on purge. Under systemd through invoke-rc.d; without
# an init system (a chroot, a container), where invoke-rc.d refuses, through the init script itself.
SERVICE = '''run_service() {
  if [ -d /run/systemd/system ]; then invoke-rc.d %(name)s "$1"; else /etc/init.d/%(name)s "$1"; fi
}
'''
POSTINST = '''#!/bin/sh
set -e
''' + SERVICE + '''if [ "$1" = configure ]; then
  update-rc.d %(name)s defaults >/dev/null
  run_service start
fi
'''
PRERM = '''#!/bin/sh
set -e
''' + SERVICE + '''if [ "$1" = remove ] || [ "$1" = upgrade ] || [ "$1" = deconfigure ]; then
  run_service stop
fi
'''
POSTRM = '''#!/bin/sh
set -e
if [ "$1" = purge ]; then
  update-rc.d %(name)s remove >/dev/null
  rm -rf /var/lib/%(name)s /var/log/%(name)s.log
fi
'''
AGENT = os.path.join(os.path.dirname(os.path.abspath(__file__)), 'agent.py')


def pad(data, size, label):
    """Deterministic filler up to size bytes."""
    chunk = hashlib.sha256(label.encode()).hexdigest().encode() * 4
    while len(data) < size:
        data += chunk
    return data[:max(size, len(data))]


class Installers:
    def __init__(self, instance_id, public_key):
        self.instance_id = instance_id
        self.public_key = public_key
        self.tmp = None
        self.lock = threading.Lock()
        self.deb_cache = {}

    def launch_query(self, query, host, port):
        params = urllib.parse.parse_qs(query, keep_blank_values=True)
        order = []
        for key in ('e', 'y', 'h', 'p', 'k', 't'):
            if key in params:
                value = params[key][-1]
            elif key == 'h':
                value = host
            elif key == 'p':
                value = '8041'
            elif key == 'k':
                value = self.public_key
            elif key == 'e':
                value = 'Access'
            elif key == 'y':
                value = 'Guest'
            else:
                value = ''
            order.append((key, value))
        cps = params.get('c', [])
        cps = (list(cps) + [''] * 8)[:8]
        order.extend(('c', c) for c in cps)
        return '?' + urllib.parse.urlencode(order, quote_via=urllib.parse.quote)

    def build(self, ext, launch, server=''):
        """The installer; server: the URL the .deb's agent connects to."""
        iid = self.instance_id
        name = 'connectwisecontrol-%s' % iid
        if ext == 'deb':
            return self.deb(launch, server)
        text = ('%s\nClientLaunchParameters=%s\nVersion=%s\n' % (name, launch, CLIENT_VERSION)).encode()
        if ext == 'msi':
            body = (b'\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1' + b'\x00' * 24 +
                    ('ProductName=ScreenConnect Client (%s)\nUpgradeCode={0AF6F3A3-5D1C-4E3B-%s-%s}\n'
                     'Manufacturer=ScreenConnect Software\nProductVersion=%s\n' % (iid, iid[:4].upper(), iid[4:].upper(), CLIENT_VERSION)).encode() + text)
        elif ext == 'exe':
            body = b'MZ\x90\x00\x03\x00\x00\x00\x04\x00\x00\x00\xff\xff\x00\x00' + b'This program cannot be run in DOS mode.\n' + \
                ('ScreenConnect Client (%s)\n' % iid).encode() + text
        elif ext == 'pkg':
            body = b'xar!\x00\x1c\x00\x01' + ('<pkg-info identifier="%s" version="%s"/>\nidentifier=%s\n'
                                              % (name, CLIENT_VERSION, name)).encode() + text
        elif ext == 'rpm':
            lead_name = name.encode()[:65]
            body = b'\xed\xab\xee\xdb\x03\x00\x00\x00\x00\x01' + lead_name + b'\x00' * (66 - len(lead_name)) + \
                ('Name: %s\nVersion: %s\n' % (name, CLIENT_VERSION)).encode() + text
        else:  # sh
            body = ('#!/bin/sh\n# ScreenConnect Client (%s) installer (simulated; installs nothing)\n'
                    'echo "This would install %s with %s"\nexit 0\n# ' % (iid, name, launch.replace('\n', ' '))).encode()
        return pad(body, 8192, name + ext)

    def deb(self, launch, server):
        with self.lock:
            data = self.deb_cache.get((launch, server))
            if data is not None:
                return data
            if self.tmp is None:
                self.tmp = tempfile.mkdtemp(prefix='scsim-')
            name = 'connectwisecontrol-%s' % self.instance_id
            root = os.path.join(self.tmp, 'pkg%d' % len(self.deb_cache))
            os.makedirs(os.path.join(root, 'DEBIAN'))
            opt = os.path.join(root, 'opt', name)
            os.makedirs(opt)
            os.makedirs(os.path.join(root, 'etc', 'init.d'))
            # The real package Depends on a Java runtime; the simulator's agent needs python3.
            with open(os.path.join(root, 'DEBIAN', 'control'), 'w') as f:
                f.write('Package: %s\nVersion: %s\nArchitecture: all\nDepends: python3\nMaintainer: ScreenConnect '
                        'Simulator <simulator@example.invalid>\nSection: net\nPriority: optional\n'
                        'Description: ScreenConnect Client (%s)\n ScreenConnect Client remote support agent '
                        '(the simulator\'s package for tests: its service runs a small agent that connects to the\n'
                        ' simulator and runs backstage commands).\n' % (name, CLIENT_VERSION, self.instance_id))
            scripts = {'postinst': POSTINST, 'prerm': PRERM, 'postrm': POSTRM}
            for script, text in scripts.items():
                with open(os.path.join(root, 'DEBIAN', script), 'w') as f:
                    f.write(text % {'name': name})
                os.chmod(os.path.join(root, 'DEBIAN', script), 0o755)
            shutil.copy(AGENT, os.path.join(opt, 'agent.py'))
            with open(os.path.join(opt, 'agent.json'), 'w') as f:
                json.dump({'server': server, 'instance_id': self.instance_id}, f)
            with open(os.path.join(opt, 'ClientLaunchParameters.txt'), 'w') as f:
                f.write(launch + '\n')
            with open(os.path.join(opt, 'version.txt'), 'w') as f:
                f.write(CLIENT_VERSION + '\n')
            init = os.path.join(root, 'etc', 'init.d', name)
            with open(init, 'w') as f:
                f.write(INIT_SCRIPT % {'id': self.instance_id, 'name': name})
            os.chmod(init, 0o755)
            for d in (root, os.path.join(root, 'DEBIAN'), opt):
                os.chmod(d, 0o755)
            out = root + '.deb'
            subprocess.run(['dpkg-deb', '--build', '--root-owner-group', root, out], check=True,
                           stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
            with open(out, 'rb') as f:
                data = f.read()
            shutil.rmtree(root, ignore_errors=True)
            self.deb_cache[(launch, server)] = data
            return data

    def cleanup(self):
        if self.tmp:
            shutil.rmtree(self.tmp, ignore_errors=True)
            self.tmp = None


CONTENT_TYPES = {'msi': 'application/x-msi', 'exe': 'application/x-msdownload',
                 'pkg': 'application/octet-stream', 'deb': 'application/vnd.debian.binary-package',
                 'rpm': 'application/x-rpm', 'sh': 'text/x-sh'}
