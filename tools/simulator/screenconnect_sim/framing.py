"""How the simulated guests (the generated fleet, which has no real agent) answer framed commands.

msp.screenconnect frames every command it waits for (plugins/module_utils/_backstage.py): the
command runs in a wrapper that prints a begin marker, its stdout and stderr in base64, and an end
marker with the exit code. A real guest runs that wrapper in its shell; a simulated guest cannot
run anything, so it recognizes the three wrappers (sh, cmd, powershell), answers the command
inside with the canned guest answers below, and prints what the wrapper would have printed.
Directives apply as on a real agent: #maxlength cuts the output (with the agent's own line) and a
`sleep N` longer than #timeout is killed (the begin marker, then the agent's line).

The canned answers, per line of the command: `hostname`, `whoami`, `echo TEXT` (`>&2` at the end:
to stderr), `exit N`, `true`, `false`, `sleep SECONDS`; any other line answers `Ran: <line>`.
"""

import base64
import re

from .agent import cut_short, directives

_SH_BEGIN = re.compile(r"^printf '%s%s\\n' '([^']*)' '([^']*)'$")
_SH_END = re.compile(r"^printf '%s%s %s\\n' '([^']*)' '([^']*)' \"\$__sc_r\"$")
_SH_COMMAND = re.compile(r"^cat > \"\$__sc_t/c\" <<'([^']+)'$")
_CMD_SET = re.compile(r'^set "__sc_([1-4])=([^"]*)"$')
_PS_BEGIN = re.compile(r"^\[Console\]::Out\.Write\('([^']*)' \+ '([^']*)' \+ \"`n\"\)$")
_PS_COMMAND = re.compile(r"^\[IO\.File\]::WriteAllText\(\(Join-Path \$__sc_t 'c\.ps1'\), .*FromBase64String\('([^']*)'\)")
_PS_END = re.compile(r"\+ '([^']*)' \+ '([^']*)' \+ ' ' \+ \$__sc_p\.ExitCode")


def canned_run(guest, command):
    """(stdout, stderr, rc, seconds it sleeps) of a command on a simulated guest."""
    out, err, rc, slept = [], [], 0, 0.0
    for line in command.replace('\r\n', '\n').split('\n'):
        text = line.strip()
        if not text or text.lower() == '@echo off':
            continue
        word, _sep, rest = text.partition(' ')
        word = word.lower()
        if word == 'exit':
            rc = int(rest) if rest.strip().lstrip('-').isdigit() else rc
            break
        if text == 'hostname':
            out.append(guest.get('MachineName', ''))
        elif text == 'whoami':
            out.append(guest.get('LoggedOnUserName', ''))
        elif word == 'echo':
            if rest.rstrip().endswith('>&2'):
                err.append(rest.rstrip()[:-3].strip())
            else:
                out.append(rest.strip())
        elif text in ('true', 'false'):
            rc = 0 if text == 'true' else 1
            continue
        elif word == 'sleep' and re.match(r'^\d+(\.\d+)?$', rest.strip()):
            slept += float(rest)
        else:
            out.append('Ran: %s' % text)
        rc = 0
    return ''.join(line + '\n' for line in out), ''.join(line + '\n' for line in err), rc, slept


def _b64(data, width, armour=False):
    encoded = base64.b64encode(data.encode('utf-8')).decode('ascii')
    lines = [encoded[index:index + width] for index in range(0, len(encoded), width)]
    if armour:  # certutil -encode
        lines = ['-----BEGIN CERTIFICATE-----'] + lines + ['-----END CERTIFICATE-----']
    return lines


def _sh(lines):
    begin = end = command = None
    for index, line in enumerate(lines):
        if begin is None and _SH_BEGIN.match(line):
            begin = ''.join(_SH_BEGIN.match(line).groups())
        elif _SH_END.match(line):
            end = ''.join(_SH_END.match(line).groups())
        elif command is None and _SH_COMMAND.match(line):
            delimiter = _SH_COMMAND.match(line).group(1)
            stop = lines.index(delimiter, index + 1) if delimiter in lines[index + 1:] else len(lines)
            command = '\n'.join(lines[index + 1:stop])
    return (begin, end, command, 76, False, '\n') if None not in (begin, end, command) else None


def _cmd(lines):
    parts = dict(_CMD_SET.match(line).groups() for line in lines if _CMD_SET.match(line))
    if sorted(parts) != ['1', '2', '3', '4'] or '(' not in lines:
        return None
    start = lines.index('(')
    encoded = []
    for line in lines[start + 1:]:
        if not line.startswith('echo '):
            break
        encoded.append(line[5:].strip())
    try:
        command = base64.b64decode(''.join(encoded)).decode('utf-8')
    except ValueError:
        return None
    return parts['1'] + parts['2'], parts['3'] + parts['4'], command, 64, True, '\r\n'


def _powershell(lines):
    begin = end = command = None
    for line in lines:
        if begin is None and _PS_BEGIN.match(line):
            begin = ''.join(_PS_BEGIN.match(line).groups())
        elif command is None and _PS_COMMAND.match(line):
            try:
                command = base64.b64decode(_PS_COMMAND.match(line).group(1)).decode('utf-8')
            except ValueError:
                return None
        elif _PS_END.search(line):
            end = ''.join(_PS_END.search(line).groups())
    return (begin, end, command, 100000, False, '\n') if None not in (begin, end, command) else None


def framed_answer(guest, text):
    """The output a guest gives for a framed command, or None when `text` is no framed command."""
    timeout_ms, maxlength, _powershell_directive, body = directives(text)
    lines = body.replace('\r\n', '\n').split('\n')
    for recognize in (_sh, _cmd, _powershell):
        found = recognize(lines)
        if found:
            break
    else:
        return None
    begin, end, command, width, armour, newline = found
    stdout, stderr, rc, slept = canned_run(guest, command)
    if slept * 1000 > timeout_ms:
        return cut_short(begin + newline, maxlength, timeout_ms)
    printed = [begin] + _b64(stdout, width, armour) + ['.'] + _b64(stderr, width, armour) + ['%s %d' % (end, rc)]
    return cut_short(newline.join(printed) + newline, maxlength)
