# -*- coding: utf-8 -*-
# Copyright: msp.screenconnect contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The sh text the connection plugin queues on a Linux or macOS guest, one function per step.

Nothing here talks to a server: each function returns the command text (before the backstage
layer frames it), so unit tests can run it with /bin/sh and check what it writes.

Files and large stdin travel as base64 in numbered chunks. Each chunk goes to its own part file in a
private staging directory (written to N.tmp, its length checked, then renamed to N), because the order
in which an agent runs queued commands is not known; the last command waits until every part is there,
joins them, checks the length and the SHA-256, and only then moves the file into place.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import base64
import hashlib
import io
import re
import zipfile

SHELL = 'sh'
# fetch_window's bytes come as they are: the backstage frame encodes stdout itself.
FETCH_BASE64 = False
# Exit codes of our own checks, so a failure is told apart from the command's own codes.
RC_STAGING = 71
RC_CHUNK = 72
RC_PARTS_MISSING = 73
RC_CHECK = 74
RC_MISSING_FILE = 75
# The payload cache has no copy of a module's code: nothing ran, send it and run again.
RC_PAYLOAD_MISS = 97
PAYLOAD_MISS = '__sc_payload_miss__'
# Modules' code (AnsiballZ zip data) cached on the guest under a hash of its content, so a later task
# sends only the wrapper and its arguments. A fixed path by default: the module, maybe run by a become
# user whose environment sudo resets, reads it by this name.
PAYLOAD_CACHE = '/tmp/.ansible-screenconnect-payloads'
# The zip data in AnsiballZ wrappers: ZIPDATA = '...' (ansible-core 2.16-2.18), zip_data='...', (2.19+).
_ZIP_LINE = re.compile(br"^(?P<head>[ \t]*(?:ZIPDATA = |zip_data=))'(?P<data>[A-Za-z0-9+/=]{1024,})'(?P<tail>,?)[ \t]*$", re.M)

# Portable helpers: GNU and BSD tools spell base64 decoding and SHA-256 differently.
_HELPERS = (
    "b64d() { if base64 -d </dev/null >/dev/null 2>&1; then base64 -d; else base64 -D; fi; }\n"
    "sha() { if command -v sha256sum >/dev/null 2>&1; then sha256sum \"$1\"; "
    "elif command -v shasum >/dev/null 2>&1; then shasum -a 256 \"$1\"; "
    "else openssl dgst -sha256 -r \"$1\"; fi | cut -d' ' -f1; }\n"
)


def quote(text):
    """text as one sh word (single quotes)."""
    return "'%s'" % text.replace("'", "'\"'\"'")


def staging_dir(token):
    if not re.match(r'^[A-Za-z0-9]+$', token):
        raise ValueError('staging token must be alphanumeric')
    return '${TMPDIR:-/tmp}/.ansible-screenconnect-%s' % token


def _enter_staging(token):
    # umask 077 and mkdir: the directory is ours alone; an existing one must be ours and no symlink.
    return ('umask 077\nd="%s"\n'
            'mkdir "$d" 2>/dev/null || { [ -d "$d" ] && [ ! -h "$d" ] && [ -O "$d" ]; } '
            '|| { echo "cannot use the staging directory $d" >&2; exit %d; }\n' % (staging_dir(token), RC_STAGING))


def _b64(data):
    return base64.b64encode(data).decode('ascii')


def chunk(token, index, data):
    """Write one numbered chunk into the staging directory; fails unless all its bytes arrived."""
    return (_HELPERS + _enter_staging(token)
            + "printf '%%s' '%s' | b64d >\"$d/%d.tmp\"\n" % (_b64(data), index)
            + 'n=$(($(wc -c <"$d/%d.tmp")))\n' % index
            + '[ "$n" -eq %d ] || { rm -f "$d/%d.tmp"; echo "chunk %d: $n bytes arrived of %d" >&2; exit %d; }\n'
            % (len(data), index, index, len(data), RC_CHUNK)
            + 'mv -f "$d/%d.tmp" "$d/%d"\n' % (index, index))


def _await_parts(count, wait_seconds):
    """Wait (on the guest) until parts 0..count-1 exist: queued chunks may still be running."""
    return ('w=0\nwhile :; do\n  missing=\n'
            '  i=0; while [ "$i" -lt %d ]; do [ -f "$d/$i" ] || missing="$missing $i"; i=$((i + 1)); done\n'
            '  [ -z "$missing" ] && break\n'
            '  if [ "$w" -ge %d ]; then rm -rf "$d"; echo "chunks missing on the guest:$missing" >&2; exit %d; fi\n'
            '  sleep 1; w=$((w + 1))\ndone\n' % (count, max(1, int(wait_seconds)), RC_PARTS_MISSING))


def _cat_parts(count):
    return 'i=0; while [ "$i" -lt %d ]; do cat "$d/$i" || exit %d; i=$((i + 1)); done' % (count, RC_CHECK)


def exec_staged(cmd, token, count, wait_seconds=60):
    """cmd with the staged chunks, joined, on its stdin; the staging directory goes afterwards.
    (Input small enough for one command rides in it instead: the backstage layer's stdin.)"""
    return (_HELPERS + _enter_staging(token) + _await_parts(count, wait_seconds)
            + '{ %s; } | (\n%s\n)\nrc=$?\nrm -rf "$d"\nexit $rc' % (_cat_parts(count), cmd))


def _install(target, size, sha256):
    """Check target.part against size and sha256, then move it into place."""
    return ('p=%s.part\n' % quote(target)
            + 'n=$(($(wc -c <"$p")))\n'
            + '[ "$n" -eq %d ] || { rm -f "$p"; echo "%s: $n bytes arrived of %d" >&2; exit %d; }\n'
            % (size, _sh_text(target), size, RC_CHECK)
            + 's=$(sha "$p")\n'
            + '[ "$s" = %s ] || { rm -f "$p"; echo "%s: SHA-256 $s, expected %s" >&2; exit %d; }\n'
            % (sha256, _sh_text(target), sha256, RC_CHECK)
            + 'mv -f "$p" %s\n' % quote(target))


def _sh_text(text):
    """text safe inside double quotes of an error message."""
    return re.sub(r'["$`\\]', '?', text)


def put_inline(target, data, sha256):
    """The whole file in one command."""
    return (_HELPERS + 'umask 077\n'
            + "printf '%%s' '%s' | b64d >%s.part || exit %d\n" % (_b64(data), quote(target), RC_CHECK)
            + _install(target, len(data), sha256))


def put_staged(target, token, count, size, sha256, wait_seconds=60):
    """Join the staged chunks into target.part, check it and move it into place."""
    return (_HELPERS + _enter_staging(token) + _await_parts(count, wait_seconds)
            + '{ %s; } >%s.part || { rm -rf "$d"; exit %d; }\n' % (_cat_parts(count), quote(target), RC_CHECK)
            + 'rm -rf "$d"\n' + _install(target, size, sha256))


def fetch_window(source, offset, length, first=False):
    """`length` bytes of source from `offset` (a multiple of length), as they are; the first also
    prints 'size sha256' on a line of its own before them."""
    if offset % length:
        raise ValueError('offset must be a multiple of the window length')
    text = _HELPERS + 'f=%s\n' % quote(source)
    text += ('[ -f "$f" ] && [ -r "$f" ] || { echo "%s: no readable file" >&2; exit %d; }\n'
             % (_sh_text(source), RC_MISSING_FILE))
    if first:
        text += 'echo "$(($(wc -c <"$f"))) $(sha "$f")"\n'
    return text + 'dd if="$f" bs=%d skip=%d count=1 2>/dev/null\n' % (length, offset // length)


def parse_fetch_header(output):
    """'size sha256' from the first window's output (bytes) -> (size, sha256, the bytes after that line)."""
    line, _sep, rest = output.partition(b'\n')
    match = re.match(br'^\s*(\d+) ([0-9a-f]{64})\s*$', line)
    if not match:
        raise ValueError('unexpected answer to the file check: %r' % line[:200])
    return int(match.group(1)), match.group(2).decode('ascii'), rest


def split_payload(in_data, cache_dir=PAYLOAD_CACHE):
    """(key, zip data, light payload) of an AnsiballZ module payload, or None for other input.

    key: a hash of the zip's entries (names and contents, sorted; not their timestamps, which
    Ansible sets to the build time on every run). light: the payload with the zip data read from
    the guest's cache file instead."""
    match = _ZIP_LINE.search(in_data)
    if not match:
        return None
    data = match.group('data')
    digest = hashlib.sha256()
    try:
        with zipfile.ZipFile(io.BytesIO(base64.b64decode(data))) as archive:
            for info in sorted(archive.infolist(), key=lambda item: item.filename):
                content = archive.read(info)
                digest.update(b'%d:%s:%d:' % (len(info.filename), info.filename.encode('utf-8'), len(content)))
                digest.update(content)
    except (ValueError, zipfile.BadZipfile, RuntimeError):
        return None
    key = digest.hexdigest()
    reader = ("open(%r).read()" % ('%s/%s' % (cache_dir, key))).encode('utf-8')
    light = in_data[:match.start()] + match.group('head') + reader + match.group('tail') + in_data[match.end():]
    return key, data, light


def _cache_dir_check(cache_dir):
    # The cache holds code root runs: its directory must be ours, no symlink, and writable by no one else.
    return ('c=%s\n'
            'cache_ok() { [ -d "$c" ] && [ ! -h "$c" ] && [ -O "$c" ] '
            '&& case $(ls -ld "$c") in ?????w*|????????w*) false ;; *) true ;; esac; }\n' % quote(cache_dir))


def cached_run(cmd, key, cache_dir=PAYLOAD_CACHE):
    """cmd (a module whose payload reads its zip data from the cache), or the miss code when the
    cache has no trusted copy of it: then nothing ran."""
    return (_cache_dir_check(cache_dir)
            + 'f="$c/%s"\n' % key
            + 'if ! cache_ok || [ ! -f "$f" ] || [ -h "$f" ] || [ ! -O "$f" ]; then echo %s >&2; exit %d; fi\n'
            % (PAYLOAD_MISS, RC_PAYLOAD_MISS)
            + cmd)


def cache_store(key, token, count, data, cache_dir=PAYLOAD_CACHE, wait_seconds=60):
    """Join the staged chunks of a module's zip data into the cache (checked by length and SHA-256),
    as text to put before cached_run()."""
    return (_HELPERS + _enter_staging(token) + _await_parts(count, wait_seconds) + _cache_dir_check(cache_dir)
            + '(umask 022; mkdir "$c" 2>/dev/null); cache_ok || { rm -rf "$d"; echo "cannot use the payload cache $c" >&2; exit %d; }\n'
            % RC_STAGING
            + 't="$c/%s.$$"\n' % key
            + '{ %s; } >"$t" && chmod 644 "$t" || { rm -rf "$d" "$t"; exit %d; }\n' % (_cat_parts(count), RC_CHECK)
            + 'rm -rf "$d"\n'
            + 'n=$(($(wc -c <"$t")))\n'
            + '[ "$n" -eq %d ] && [ "$(sha "$t")" = %s ] || { rm -f "$t"; echo "payload cache: the module code arrived damaged" >&2; exit %d; }\n'
            % (len(data), hashlib.sha256(data).hexdigest(), RC_CHECK)
            + 'mv -f "$t" "$c/%s"\n' % key)
