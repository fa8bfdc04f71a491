# -*- coding: utf-8 -*-
# Copyright: msp.screenconnect contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The PowerShell text the connection plugin queues on a Windows guest (run with #!ps), one function
per step, the same steps as _guest_posix.py.

Implemented after the psrp connection plugin (which decodes the shell plugin's -EncodedCommand and
runs the script itself) and after the bootstrap wrapper of the exec wrapper, which reads its payload
from pipeline input ($input): here that input comes from a file written in chunks. No Windows host
runs in CI: unit tests check the exact text of each step.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import base64
import re

# The first fetch window's 'size sha256' line reads the same on both families.
from ansible_collections.msp.screenconnect.plugins.plugin_utils._guest_posix import parse_fetch_header  # noqa: F401 pylint: disable=unused-import

SHELL = 'powershell'
# PowerShell's output is text: fetch_window prints base64.
FETCH_BASE64 = True
RC_STAGING = 71
RC_CHUNK = 72
RC_PARTS_MISSING = 73
RC_CHECK = 74
RC_MISSING_FILE = 75

# ansible.plugins.shell.powershell._common_args, the prefix of every command that shell plugin builds.
COMMON_ARGS = 'PowerShell -NoProfile -NonInteractive -ExecutionPolicy Unrestricted'


def quote(text):
    """text as a PowerShell single-quoted string (the 5 quote characters doubled)."""
    return "'%s'" % re.sub(u"(['\u2018\u2019\u201a\u201b])", u'\\1\\1', text)


def decode_encoded_command(cmd):
    """(script, arguments) of a PowerShell command line with -EncodedCommand (base64 of UTF-16-LE) and,
    on ansible-core 2.20+, -EncodedArguments; None for any other command."""
    try:
        # ansible-core 2.20+: its own parser, which also reads -EncodedArguments (CLIXML)
        from ansible._internal._powershell._script import parse_encoded_cmdline
    except ImportError:
        parse_encoded_cmdline = None
    if parse_encoded_cmdline is not None:
        try:
            parsed = parse_encoded_cmdline(cmd)
        except ValueError:
            return None
        return (parsed[0], list(parsed[1])) if parsed else None
    parts = cmd.split()
    if '-EncodedCommand' not in parts or parts.index('-EncodedCommand') + 1 >= len(parts):
        return None
    try:
        return base64.b64decode(parts[parts.index('-EncodedCommand') + 1]).decode('utf-16-le'), []
    except (TypeError, ValueError):
        return None


def _b64(data):
    return base64.b64encode(data).decode('ascii')


def _text_b64(text):
    return _b64(text.encode('utf-8'))


def staging_dir(token):
    if not re.match(r'^[A-Za-z0-9]+$', token):
        raise ValueError('staging token must be alphanumeric')
    return "(Join-Path ([IO.Path]::GetTempPath()) 'ansible-screenconnect-%s')" % token


def _enter_staging(token):
    return ("$ErrorActionPreference = 'Stop'\n"
            '$d = %s\n'
            'try { $null = New-Item -ItemType Directory -Force -Path $d } '
            'catch { [Console]::Error.WriteLine("cannot use the staging directory ${d}: $_"); exit %d }\n'
            % (staging_dir(token), RC_STAGING))


def chunk(token, index, data):
    return (_enter_staging(token)
            + "$b = [Convert]::FromBase64String('%s')\n" % _b64(data)
            + "$t = Join-Path $d '%d.tmp'\n" % index
            + '[IO.File]::WriteAllBytes($t, $b)\n'
            + '$n = (Get-Item -LiteralPath $t).Length\n'
            + 'if ($n -ne %d) { Remove-Item -LiteralPath $t -Force; '
              '[Console]::Error.WriteLine("chunk %d: $n bytes arrived of %d"); exit %d }\n'
            % (len(data), index, len(data), RC_CHUNK)
            + "Move-Item -Force -LiteralPath $t -Destination (Join-Path $d '%d')\n" % index)


def _join_parts(count, target, wait_seconds):
    """Wait until parts 0..count-1 exist, then join them into target (a PowerShell expression)."""
    return ('$w = 0\n'
            'while ($true) {\n'
            "    $missing = @(0..%d | Where-Object { -not (Test-Path -LiteralPath (Join-Path $d \"$_\")) })\n"
            '    if ($missing.Count -eq 0) { break }\n'
            '    if ($w -ge %d) { Remove-Item -LiteralPath $d -Recurse -Force; '
            '[Console]::Error.WriteLine("chunks missing on the guest: $missing"); exit %d }\n'
            '    Start-Sleep -Seconds 1; $w++\n'
            '}\n'
            '$out = [IO.File]::Create(%s)\n'
            'try { foreach ($i in 0..%d) { $b = [IO.File]::ReadAllBytes((Join-Path $d \"$i\")); $out.Write($b, 0, $b.Length) } }\n'
            'finally { $out.Dispose() }\n' % (count - 1, max(1, int(wait_seconds)), RC_PARTS_MISSING, target, count - 1))


def _block(script):
    return "[ScriptBlock]::Create([Text.Encoding]::UTF8.GetString([Convert]::FromBase64String('%s')))" % _text_b64(script)


def _arguments(arguments):
    return ''.join(' ' + quote(argument) for argument in arguments or ())


def _invoke(script, arguments=None, stdin_file=None):
    """Run script (decoded from -EncodedCommand) as a script block with its arguments, with the lines of
    stdin_file as its pipeline input ($input), as psrp feeds the bootstrap wrapper."""
    if stdin_file is None:
        return '& (%s)%s\n' % (_block(script), _arguments(arguments))
    return 'Get-Content -LiteralPath %s -Encoding UTF8 | & (%s)%s\n' % (stdin_file, _block(script), _arguments(arguments))


def exec_script(script, arguments=None):
    """A script (from -EncodedCommand) without input, or any other command text as it is (raw)."""
    return _invoke(script, arguments)


def exec_inline(script, in_data, arguments=None):
    """The script with in_data as its pipeline input, both in this one command."""
    return ("[Text.Encoding]::UTF8.GetString([Convert]::FromBase64String('%s')) -split '\\r?\\n' | & (%s)%s\n"
            % (_b64(in_data), _block(script), _arguments(arguments)))


def exec_staged(script, token, count, arguments=None, wait_seconds=60):
    """The script with the staged chunks, joined into a file, as its pipeline input (the -InputFile
    of the bootstrap wrapper); the staging directory goes afterwards."""
    return (_enter_staging(token) + _join_parts(count, "(Join-Path $d 'stdin')", wait_seconds)
            + 'try {\n' + _invoke(script, arguments, "(Join-Path $d 'stdin')")
            + '} finally { Remove-Item -LiteralPath $d -Recurse -Force -ErrorAction SilentlyContinue }\n')


def _install(target, size, sha256):
    return ('$p = %s\n' % quote(target + '.part')
            + '$n = (Get-Item -LiteralPath $p).Length\n'
            + 'if ($n -ne %d) { Remove-Item -LiteralPath $p -Force; [Console]::Error.WriteLine("${p}: $n bytes arrived of %d"); exit %d }\n'
            % (size, size, RC_CHECK)
            + '$s = (Get-FileHash -LiteralPath $p -Algorithm SHA256).Hash.ToLowerInvariant()\n'
            + "if ($s -ne '%s') { Remove-Item -LiteralPath $p -Force; [Console]::Error.WriteLine(\"${p}: SHA-256 $s, expected %s\"); exit %d }\n"
            % (sha256, sha256, RC_CHECK)
            + 'Move-Item -Force -LiteralPath $p -Destination %s\n' % quote(target))


def put_inline(target, data, sha256):
    return ("$ErrorActionPreference = 'Stop'\n"
            + "[IO.File]::WriteAllBytes(%s, [Convert]::FromBase64String('%s'))\n" % (quote(target + '.part'), _b64(data))
            + _install(target, len(data), sha256))


def put_staged(target, token, count, size, sha256, wait_seconds=60):
    return (_enter_staging(token) + _join_parts(count, quote(target + '.part'), wait_seconds)
            + 'Remove-Item -LiteralPath $d -Recurse -Force\n' + _install(target, size, sha256))


def fetch_window(source, offset, length, first=False):
    """base64 of `length` bytes of source from `offset`; the first also prints 'size sha256' on a line."""
    text = "$ErrorActionPreference = 'Stop'\n$f = %s\n" % quote(source)
    text += ('if (-not (Test-Path -LiteralPath $f -PathType Leaf)) { [Console]::Error.WriteLine("${f}: no readable file"); exit %d }\n'
             % RC_MISSING_FILE)
    if first:
        text += ('"{0} {1}" -f (Get-Item -LiteralPath $f).Length, '
                 '(Get-FileHash -LiteralPath $f -Algorithm SHA256).Hash.ToLowerInvariant()\n')
    return text + ('$fs = [IO.File]::OpenRead($f)\n'
                   'try { $null = $fs.Seek(%d, [IO.SeekOrigin]::Begin); $b = New-Object byte[] %d; $n = $fs.Read($b, 0, %d); '
                   '[Convert]::ToBase64String($b, 0, $n) } finally { $fs.Dispose() }\n' % (offset, length, length))
