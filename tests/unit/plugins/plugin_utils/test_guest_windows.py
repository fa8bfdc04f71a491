"""The PowerShell texts of the connection plugin. No Windows host runs here: each step's exact text is checked."""

import base64

import pytest

from ansible.plugins.loader import shell_loader

from ansible_collections.msp.screenconnect.plugins.plugin_utils import _guest_windows as guest

ENTER = ("$ErrorActionPreference = 'Stop'\n"
         "$d = (Join-Path ([IO.Path]::GetTempPath()) 'ansible-screenconnect-tok1')\n"
         'try { $null = New-Item -ItemType Directory -Force -Path $d } '
         'catch { [Console]::Error.WriteLine("cannot use the staging directory ${d}: $_"); exit 71 }\n')


def join(count, target):
    return ('$w = 0\n'
            'while ($true) {\n'
            '    $missing = @(0..%d | Where-Object { -not (Test-Path -LiteralPath (Join-Path $d "$_")) })\n'
            '    if ($missing.Count -eq 0) { break }\n'
            '    if ($w -ge 60) { Remove-Item -LiteralPath $d -Recurse -Force; '
            '[Console]::Error.WriteLine("chunks missing on the guest: $missing"); exit 73 }\n'
            '    Start-Sleep -Seconds 1; $w++\n'
            '}\n'
            '$out = [IO.File]::Create(%s)\n'
            'try { foreach ($i in 0..%d) { $b = [IO.File]::ReadAllBytes((Join-Path $d "$i")); $out.Write($b, 0, $b.Length) } }\n'
            'finally { $out.Dispose() }\n' % (count - 1, target, count - 1))


def block(script):
    return ("[ScriptBlock]::Create([Text.Encoding]::UTF8.GetString([Convert]::FromBase64String('%s')))"
            % base64.b64encode(script.encode('utf-8')).decode())


def test_decodes_what_the_powershell_shell_plugin_encodes():
    shell = shell_loader.get('powershell')
    cmd = shell._encode_script('Write-Output "héllo"', preserve_rc=False, strict_mode=False)
    assert '-EncodedCommand ' in cmd
    assert guest.decode_encoded_command(cmd) == ('Write-Output "héllo"', [])


def test_decodes_encoded_arguments_where_ansible_core_has_them():
    script = pytest.importorskip('ansible._internal._powershell._script')
    cmd = ' '.join(script.get_pwsh_encoded_cmdline('param($a) $a', args=["it's", 'two words'], override_execution_policy=True))
    assert guest.decode_encoded_command(cmd) == ('param($a) $a', ["it's", 'two words'])


def test_other_commands_are_not_decoded():
    assert guest.decode_encoded_command('hostname') is None
    assert guest.decode_encoded_command(guest.COMMON_ARGS + ' -File "C:\\x.ps1"') is None
    assert guest.exec_script('$args', ["it's"]) == "& (%s) 'it''s'\n" % block('$args')


def test_quote_doubles_every_single_quote():
    assert guest.quote(u"C:\\it's \u2019x\u2019") == u"'C:\\it''s \u2019\u2019x\u2019\u2019'"


def test_chunk_text():
    assert guest.chunk('tok1', 2, b'hello') == ENTER + (
        "$b = [Convert]::FromBase64String('aGVsbG8=')\n"
        "$t = Join-Path $d '2.tmp'\n"
        '[IO.File]::WriteAllBytes($t, $b)\n'
        '$n = (Get-Item -LiteralPath $t).Length\n'
        'if ($n -ne 5) { Remove-Item -LiteralPath $t -Force; [Console]::Error.WriteLine("chunk 2: $n bytes arrived of 5"); exit 72 }\n'
        "Move-Item -Force -LiteralPath $t -Destination (Join-Path $d '2')\n")


def test_script_without_input():
    assert guest.exec_script('Get-Date') == '& (%s)\n' % block('Get-Date')


def test_script_with_input_inline():
    assert guest.exec_inline('$input', b'line1\nline2') == (
        "[Text.Encoding]::UTF8.GetString([Convert]::FromBase64String('bGluZTEKbGluZTI=')) -split '\\r?\\n' | & (%s)\n"
        % block('$input'))


def test_script_with_staged_input_file():
    assert guest.exec_staged('$input | Out-String', 'tok1', 3) == ENTER + join(3, "(Join-Path $d 'stdin')") + (
        'try {\n'
        "Get-Content -LiteralPath (Join-Path $d 'stdin') -Encoding UTF8 | & (%s)\n"
        '} finally { Remove-Item -LiteralPath $d -Recurse -Force -ErrorAction SilentlyContinue }\n'
        % block('$input | Out-String'))


INSTALL = ("$p = 'C:\\Temp\\it''s.txt.part'\n"
           '$n = (Get-Item -LiteralPath $p).Length\n'
           'if ($n -ne 10) { Remove-Item -LiteralPath $p -Force; [Console]::Error.WriteLine("${p}: $n bytes arrived of 10"); exit 74 }\n'
           '$s = (Get-FileHash -LiteralPath $p -Algorithm SHA256).Hash.ToLowerInvariant()\n'
           "if ($s -ne '%s') { Remove-Item -LiteralPath $p -Force; [Console]::Error.WriteLine(\"${p}: SHA-256 $s, expected %s\"); exit 74 }\n"
           "Move-Item -Force -LiteralPath $p -Destination 'C:\\Temp\\it''s.txt'\n" % ('ab' * 32, 'ab' * 32))


def test_put_staged():
    assert guest.put_staged("C:\\Temp\\it's.txt", 'tok1', 2, 10, 'ab' * 32) == ENTER + join(2, "'C:\\Temp\\it''s.txt.part'") + (
        'Remove-Item -LiteralPath $d -Recurse -Force\n') + INSTALL


def test_put_inline():
    assert guest.put_inline("C:\\Temp\\it's.txt", b'0123456789', 'ab' * 32) == (
        "$ErrorActionPreference = 'Stop'\n"
        "[IO.File]::WriteAllBytes('C:\\Temp\\it''s.txt.part', [Convert]::FromBase64String('MDEyMzQ1Njc4OQ=='))\n") + INSTALL


def test_fetch_windows():
    head = ("$ErrorActionPreference = 'Stop'\n$f = 'C:\\a.bin'\n"
            'if (-not (Test-Path -LiteralPath $f -PathType Leaf)) { [Console]::Error.WriteLine("${f}: no readable file"); exit 75 }\n')
    read = ('$fs = [IO.File]::OpenRead($f)\n'
            'try { $null = $fs.Seek(%d, [IO.SeekOrigin]::Begin); $b = New-Object byte[] 1024; $n = $fs.Read($b, 0, 1024); '
            '[Convert]::ToBase64String($b, 0, $n) } finally { $fs.Dispose() }\n')
    assert guest.fetch_window('C:\\a.bin', 0, 1024, first=True) == head + (
        '"{0} {1}" -f (Get-Item -LiteralPath $f).Length, (Get-FileHash -LiteralPath $f -Algorithm SHA256).Hash.ToLowerInvariant()\n'
    ) + read % 0
    assert guest.fetch_window('C:\\a.bin', 2048, 1024) == head + read % 2048


def test_fetch_header_is_the_posix_one():
    assert guest.parse_fetch_header(b'12 %s\r\nAAAA' % (b'0' * 64)) == (12, '0' * 64, b'AAAA')


def test_token_must_be_plain():
    with pytest.raises(ValueError):
        guest.chunk('a b', 0, b'')
