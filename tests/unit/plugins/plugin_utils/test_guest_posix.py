"""The sh texts of the connection plugin, run for real with /bin/sh in a temporary directory (no server)."""

import base64
import gzip
import hashlib
import io
import os
import subprocess
import zipfile

import pytest

from ansible_collections.msp.screenconnect.plugins.plugin_utils import _guest_posix as guest


def sh(text, tmp_path):
    env = dict(os.environ, TMPDIR=str(tmp_path))
    done = subprocess.run(['/bin/sh', '-c', text], stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                          stderr=subprocess.PIPE, env=env, timeout=60, check=False)
    return done.returncode, done.stdout, done.stderr


def staging(tmp_path, token):
    return tmp_path / ('.ansible-screenconnect-%s' % token)


DATA = bytes(range(256)) * 300 + "é ' \" $HOME `x` \\n".encode('utf-8')


def split(data, size):
    return [data[i:i + size] for i in range(0, len(data), size)]


def test_quote_survives_every_quote():
    assert subprocess.run(['/bin/sh', '-c', 'printf %s ' + guest.quote("it's \"$x\" `y`")],
                          stdout=subprocess.PIPE, check=True).stdout == b"it's \"$x\" `y`"


def test_staged_stdin_in_any_order_then_the_directory_goes(tmp_path):
    parts = split(DATA, 7000)
    # The agent may run queued chunks in any order: the last first.
    for index in reversed(range(len(parts))):
        assert sh(guest.chunk('abc123', index, parts[index]), tmp_path)[0] == 0
    assert oct(staging(tmp_path, 'abc123').stat().st_mode & 0o777) == '0o700'
    rc, out, err = sh(guest.exec_staged("cat; echo done >&2; exit 5", 'abc123', len(parts)), tmp_path)
    assert (rc, out, err) == (5, DATA, b'done\n')
    assert not staging(tmp_path, 'abc123').exists()


def test_staged_compressed(tmp_path):
    packed = gzip.compress(DATA)
    parts = split(packed, 4000)
    for index, part in enumerate(parts):
        sh(guest.chunk('z1', index, part), tmp_path)
    assert sh(guest.exec_staged('gzip -dc | (\ncat\n)', 'z1', len(parts)), tmp_path)[:2] == (0, DATA)


def test_a_missing_chunk_fails_after_waiting_and_cleans_up(tmp_path):
    sh(guest.chunk('gap', 0, b'one'), tmp_path)
    rc, _out, err = sh(guest.exec_staged('cat', 'gap', 3, wait_seconds=1), tmp_path)
    assert rc == guest.RC_PARTS_MISSING and b'chunks missing on the guest: 1 2' in err
    assert not staging(tmp_path, 'gap').exists()


def test_staging_directory_of_someone_else_is_refused(tmp_path):
    elsewhere = tmp_path / 'elsewhere'
    elsewhere.mkdir()
    os.symlink(str(elsewhere), str(staging(tmp_path, 'link')))
    rc, _out, err = sh(guest.chunk('link', 0, b'x'), tmp_path)
    assert rc == guest.RC_STAGING and b'cannot use the staging directory' in err
    assert list(elsewhere.iterdir()) == []


def test_token_must_be_plain():
    with pytest.raises(ValueError):
        guest.chunk('../x', 0, b'')


def test_put_inline_checks_and_moves_into_place(tmp_path):
    target = tmp_path / "name with 'quote' and $x"
    rc, _out, err = sh(guest.put_inline(str(target), DATA, hashlib.sha256(DATA).hexdigest()), tmp_path)
    assert rc == 0, err
    assert target.read_bytes() == DATA
    assert not (tmp_path / ("%s.part" % target.name)).exists()


def test_put_with_a_wrong_sha_leaves_the_old_file(tmp_path):
    target = tmp_path / 'kept'
    target.write_bytes(b'old')
    rc, _out, err = sh(guest.put_inline(str(target), DATA, '0' * 64), tmp_path)
    assert rc == guest.RC_CHECK and b'SHA-256' in err
    assert target.read_bytes() == b'old'
    assert not (tmp_path / 'kept.part').exists()


def test_put_staged_joins_the_chunks(tmp_path):
    target = tmp_path / 'big.bin'
    parts = split(DATA, 10000)
    for index, part in enumerate(parts):
        sh(guest.chunk('put1', index, part), tmp_path)
    rc, _out, err = sh(guest.put_staged(str(target), 'put1', len(parts), len(DATA), hashlib.sha256(DATA).hexdigest()), tmp_path)
    assert rc == 0, err
    assert target.read_bytes() == DATA and not staging(tmp_path, 'put1').exists()


def test_put_staged_with_a_short_total_is_refused(tmp_path):
    target = tmp_path / 'short.bin'
    sh(guest.chunk('put2', 0, DATA[:100]), tmp_path)
    rc, _out, err = sh(guest.put_staged(str(target), 'put2', 1, len(DATA), hashlib.sha256(DATA).hexdigest()), tmp_path)
    assert rc == guest.RC_CHECK and b'100 bytes arrived of' in err
    assert not target.exists()


def test_fetch_windows_read_the_whole_file(tmp_path):
    source = tmp_path / 'source.bin'
    source.write_bytes(DATA)
    window = 8192
    rc, out, _err = sh(guest.fetch_window(str(source), 0, window, first=True), tmp_path)
    assert rc == 0
    size, sha256, data = guest.parse_fetch_header(out)
    assert (size, sha256) == (len(DATA), hashlib.sha256(DATA).hexdigest())
    for offset in range(window, size, window):
        rc, out, _err = sh(guest.fetch_window(str(source), offset, window), tmp_path)
        data += out
    assert data == DATA


def test_fetch_of_a_missing_file(tmp_path):
    rc, _out, err = sh(guest.fetch_window(str(tmp_path / 'nothing'), 0, 1024, first=True), tmp_path)
    assert rc == guest.RC_MISSING_FILE and b'no readable file' in err


def test_fetch_header_rejects_other_text():
    with pytest.raises(ValueError):
        guest.parse_fetch_header(b'Killed after 10000 milliseconds\n')
    with pytest.raises(ValueError):
        guest.fetch_window('/x', 100, 1024)


# ---- the payload cache -------------------------------------------------------------------------
def ansiballz(files, date_time, style):
    """A module payload shaped like ansible-core's AnsiballZ wrapper (style 2.16: ZIPDATA = '...';
    2.19: zip_data='...', as a keyword argument), printing its zip's files when run."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, 'w') as archive:
        for name, content in files:
            archive.writestr(zipfile.ZipInfo(name, date_time), content)
    data = base64.b64encode(buffer.getvalue()).decode()
    body = 'import base64, io, sys, zipfile\n'
    if style == '2.16':
        body += "ZIPDATA = '%s'\nzip_data = ZIPDATA\n" % data
    else:
        body += "def main(zip_data, params):\n    return zip_data\nzip_data = main(\n    params='{}',\n    zip_data='%s',\n)\n" % data
    body += ("z = zipfile.ZipFile(io.BytesIO(base64.b64decode(zip_data)))\n"
             "sys.stdout.write(''.join(z.read(n).decode() for n in sorted(z.namelist())))\n")
    return body.encode()


FILES = [('ansible/module_utils/basic.py', 'x = 1\n' * 500), ('__main__.py', 'print(1)\n' * 300)]


@pytest.mark.parametrize('style', ['2.16', '2.19'])
def test_split_payload_keys_the_code_not_its_timestamps(style, tmp_path):
    first = guest.split_payload(ansiballz(FILES, (2026, 1, 1, 0, 0, 0), style), str(tmp_path))
    later = guest.split_payload(ansiballz(list(reversed(FILES)), (2026, 7, 9, 10, 11, 12), style), str(tmp_path))
    other = guest.split_payload(ansiballz(FILES[:1], (2026, 1, 1, 0, 0, 0), style), str(tmp_path))
    assert first[0] == later[0] != other[0]
    key, data, light = first
    assert data not in light and ("open('%s/%s').read()" % (tmp_path, key)).encode() in light
    assert len(light) < 1000


def test_split_payload_leaves_other_input_alone():
    assert guest.split_payload(b'#!/bin/sh\necho hi\n') is None
    assert guest.split_payload(b"ZIPDATA = '%s'\n" % (b'A' * 2000)) is None   # no zip inside


@pytest.mark.parametrize('style', ['2.16', '2.19'])
def test_cached_module_misses_then_runs_from_the_cache(style, tmp_path):
    import sys
    cache = str(tmp_path / 'payloads')
    key, data, light = guest.split_payload(ansiballz(FILES, (2026, 1, 1, 0, 0, 0), style), cache)
    light_file = tmp_path / 'light.py'
    light_file.write_bytes(light)
    cmd = '%s %s' % (sys.executable, light_file)
    rc, _out, err = sh(guest.cached_run(cmd, key, cache), tmp_path)
    assert rc == guest.RC_PAYLOAD_MISS and guest.PAYLOAD_MISS.encode() in err
    parts = split(data, 5000)
    for index, part in enumerate(parts):
        sh(guest.chunk('pl', index, part), tmp_path)
    expected = ''.join(content for _name, content in sorted(FILES)).encode()
    rc, out, err = sh(guest.cache_store(key, 'pl', len(parts), data, cache) + guest.cached_run(cmd, key, cache), tmp_path)
    assert (rc, out) == (0, expected), err
    assert oct(os.stat(cache).st_mode & 0o777) == '0o755' and oct(os.stat(os.path.join(cache, key)).st_mode & 0o777) == '0o644'
    assert sh(guest.cached_run(cmd, key, cache), tmp_path)[:2] == (0, expected)
    # a cache others may write to is not trusted
    os.chmod(cache, 0o777)
    assert sh(guest.cached_run(cmd, key, cache), tmp_path)[0] == guest.RC_PAYLOAD_MISS


def test_damaged_module_code_is_not_cached(tmp_path):
    cache = str(tmp_path / 'payloads')
    sh(guest.chunk('bad', 0, b'not the code'), tmp_path)
    rc, _out, err = sh(guest.cache_store('k' * 64, 'bad', 1, b'the real code', cache), tmp_path)
    assert rc == guest.RC_CHECK and b'arrived damaged' in err
    assert os.listdir(cache) == []
