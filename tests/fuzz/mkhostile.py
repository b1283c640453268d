#!/usr/bin/env python3
# mkhostile.py DIR: small files whose headers claim huge sizes, counts or
# shapes (tests/cli/hostile.bats).  Each is a few hundred bytes; a
# reader that believed its claims would allocate gigabytes or loop for
# a long time.  Built byte by byte, standard library only; checksums of
# bnt streams are correct so that the claims are what gets judged.
import io
import os
import struct
import sys
import zipfile

D = sys.argv[1]
DATE = (1980, 1, 1, 0, 0, 0)
T = [0] * 256
for i in range(256):
    c = i
    for _ in range(8):
        c = (c >> 1) ^ 0x82F63B78 if c & 1 else c >> 1
    T[i] = c


def crc32c(b, c=0):
    c ^= 0xFFFFFFFF
    for x in b:
        c = T[(c ^ x) & 0xFF] ^ (c >> 8)
    return c ^ 0xFFFFFFFF


def out(name, data):
    with open(os.path.join(D, name), 'wb') as f:
        f.write(data)


# bnt: file header, then records with a given meta and claimed lengths
def fhdr():
    h = b'\x89BNT\r\n\x1a\n' + struct.pack('<II', 1, 0) + b'\0' * 44
    return h + struct.pack('<I', crc32c(h))


def record(kind, meta, data, mlen=None, dlen=None, pad=True):
    mlen = len(meta) if mlen is None else mlen
    dlen = len(data) if dlen is None else dlen
    h = struct.pack('<IIQQI', kind, 0, mlen, dlen, crc32c(meta + data))
    h += struct.pack('<I', crc32c(h))
    r = h + meta
    if pad:
        r += b'\0' * (-len(r) % 64) + data + b'\0' * (-len(data) % 64)
    return r


END = record(0x80000000, b'', b'')


def tmeta(dtype, dims, raw_len, name=b'w'):
    return struct.pack('<BBBBIIIQ', dtype, len(dims), 0, 0, 0, 0,
                       len(name), raw_len) + \
        b''.join(struct.pack('<Q', d) for d in dims) + name


# a payload length of 2^50 bytes that does not follow
out('bnt-claims-petabyte-payload.bnt',
    fhdr() + record(0x80000003, tmeta(0, [4], 16), b'', dlen=1 << 50))
# metadata length of 2^40 (over the 16 MiB cap)
out('bnt-claims-huge-meta.bnt',
    fhdr() + record(0x80000001, b'a=1\n', b'', mlen=1 << 40, pad=False))
# a 2^31 x 2^31 f32 tensor whose payload is 16 bytes
out('bnt-claims-huge-shape.bnt',
    fhdr() + record(0x80000003, tmeta(0, [1 << 31, 1 << 31], 1 << 62), b'\0' * 16)
    + END)
# a tokenizer of 2^31 tokens in a 64-byte payload
out('bnt-claims-many-tokens.bnt',
    fhdr() + record(0x80000002, b'n_tokens=2147483647\nn_merges=0\n'
                    b'has_scores=0\nhas_types=0\n', b'\0' * 64) + END)
# a skippable record of 2^40 bytes that is not there
out('bnt-claims-huge-note.bnt',
    fhdr() + record(0x00000001, b'x', b'', dlen=1 << 40, pad=False))

# safetensors
def st(hdr, data=b'', hlen=None):
    h = hdr.encode()
    return struct.pack('<Q', len(h) if hlen is None else hlen) + h + data


out('st-claims-huge-header.safetensors',
    st('{"w":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}}',
       b'\0' * 64, hlen=1 << 40))
out('st-claims-huge-shape.safetensors', st(
    '{"w":{"dtype":"F32","shape":[1073741824,1073741824],'
    '"data_offsets":[0,4611686018427387904]}}', b'\0' * 64))
out('st-claims-many-dims.safetensors', st(
    '{"w":{"dtype":"F32","shape":[' + ','.join(['1'] * 100000) + '],'
    '"data_offsets":[0,4]}}', b'\0' * 4))


# GGUF: counts of 2^40 tensors and keys in a 64-byte file
def gs(x):
    return struct.pack('<Q', len(x)) + x


out('gguf-claims-many-tensors.gguf',
    b'GGUF' + struct.pack('<IQQ', 3, 1 << 40, 0) + b'\0' * 40)
out('gguf-claims-many-keys.gguf',
    b'GGUF' + struct.pack('<IQQ', 3, 0, 1 << 40) + b'\0' * 40)
# one f32 tensor of 2^20 x 2^20 x 2^20 elements at offset 0
out('gguf-claims-huge-tensor.gguf',
    b'GGUF' + struct.pack('<IQQ', 3, 1, 0) + gs(b'w') +
    struct.pack('<IQQQIQ', 3, 1 << 20, 1 << 20, 1 << 20, 0, 0) +
    b'\0' * 64)


def npy(header, data=b''):
    h = header + ' ' * (-(len(header) + 11) % 64) + '\n'
    return b'\x93NUMPY\x01\x00' + struct.pack('<H', len(h)) + h.encode() + \
        data


# npy: 2^28 f32 (1 GiB) claimed, 16 bytes present; 2^62 elements
out('npy-claims-gib.npy',
    npy("{'descr': '<f4', 'fortran_order': False, 'shape': (268435456,), }",
        b'\0' * 16))
out('npy-claims-2p62.npy',
    npy("{'descr': '<f4', 'fortran_order': False, "
        "'shape': (2147483648, 2147483648), }", b'\0' * 16))


# torch zips whose pickles claim huge strings, memo slots, frames,
# storages
def pt(name, pkl, extra=()):
    b = io.BytesIO()
    with zipfile.ZipFile(b, 'w', zipfile.ZIP_STORED) as z:
        z.writestr(zipfile.ZipInfo('m/data.pkl', DATE), pkl)
        z.writestr(zipfile.ZipInfo('m/byteorder', DATE), b'little')
        for n, d in extra:
            z.writestr(zipfile.ZipInfo(n, DATE), d)
    out(name, b.getvalue())


pt('pt-claims-huge-string.pt', b'\x80\x04\x8d' + struct.pack('<Q', 1 << 60)
   + b'abc.')
pt('pt-claims-huge-bytes.pt', b'\x80\x04\x8e' + struct.pack('<Q', 1 << 60)
   + b'abc.')
pt('pt-claims-huge-frame.pt', b'\x80\x04\x95' + struct.pack('<Q', 1 << 60)
   + b'N.')
pt('pt-claims-huge-memo.pt', b'\x80\x02N' + b'r' + struct.pack('<I', 0xFFFFFFF0)
   + b'.')


def ustr(x):
    return b'X' + struct.pack('<I', len(x)) + x


def glob_(m, n):
    return b'c' + m + b'\n' + n + b'\n'


# a tensor of 2^40 x 2^20 floats in a storage that claims 2^60 elements
pkl = (b'\x80\x02}(' + ustr(b'w') + glob_(b'torch._utils', b'_rebuild_tensor_v2')
       + b'((' + ustr(b'storage') + glob_(b'torch', b'FloatStorage') +
       ustr(b'0') + ustr(b'cpu') + b'\x8a\x08' + struct.pack('<q', 1 << 60) +
       b'tQJ\0\0\0\0(\x8a\x08' + struct.pack('<q', 1 << 40) + b'J\0\0\x10\0'
       b't(J\0\0\x10\0J\1\0\0\0t\x89' + glob_(b'collections', b'OrderedDict')
       + b')RtRu.')
pt('pt-claims-huge-storage.pt', pkl, [('m/data/0', b'\0' * 16)])

# globals outside the allowlist, in the places a tensor would be
for name, pkl in [
        ('evil-subprocess.pt', b'\x80\x02' + glob_(b'subprocess',
         b'check_output') + b'(X\x02\0\0\0idtR.'),
        ('evil-posix-system.pt', b'\x80\x04\x8c\x05posix\x8c\x06system'
         b'\x93X\x02\0\0\0id\x85R.'),
        ('evil-torch-load.pt', b'\x80\x02}(' + ustr(b'w') +
         glob_(b'torch', b'load') + b'(X\x01\0\0\0xtRu.')]:
    pt(name, pkl)
