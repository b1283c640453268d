"""peerlib.py: the pieces the NumPy reference generators in tests/peers
(and tests/fixtures/vocab/mkspm-model.py) share: bf16 rounding,
a safetensors writer, transformers' BitNet code packing and protobuf
varints.  Python's standard library, and NumPy for the array helpers (imported
there, so that the varint writer needs none); nothing of bntools.
"""
import json
import struct


def bf16(a):
    """Round f32 to bf16 (nearest even); returns (uint16 bits, f32 values)."""
    import numpy as np
    u = np.asarray(a, dtype=np.float32).view(np.uint32).astype(np.uint64)
    u = (u + 0x7FFF + ((u >> 16) & 1)) >> 16
    bits = u.astype(np.uint16)
    return bits, (bits.astype(np.uint32) << 16).view(np.float32)


def write_st(path, tensors):
    """tensors: name -> (dtype string, shape, bytes)."""
    head, off, blobs = {}, 0, []
    for name, (dt, shape, blob) in tensors.items():
        head[name] = {"dtype": dt, "shape": list(shape),
                      "data_offsets": [off, off + len(blob)]}
        blobs.append(blob)
        off += len(blob)
    h = json.dumps(head).encode()
    h += b" " * ((8 - len(h) % 8) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(h)))
        f.write(h)
        for b in blobs:
            f.write(b)


def pack_codes(t):
    """[out, in] values in {-1, 0, 1} -> uint8 [out/4, in]: unpacked row
    r in packed row r mod (out/4) at bits 2 (r div (out/4)), value+1."""
    import numpy as np
    out = t.shape[0] // 4
    c = (t + 1).astype(np.uint8)
    p = np.zeros((out, t.shape[1]), dtype=np.uint8)
    for g in range(4):
        p |= c[g * out:(g + 1) * out] << (2 * g)
    return p


def varint(x):
    """A protobuf varint (negative int64s take ten bytes)."""
    x &= (1 << 64) - 1
    b = bytearray()
    while True:
        c = x & 0x7f
        x >>= 7
        b.append(c | (0x80 if x else 0))
        if not x:
            return bytes(b)


def read_varint(d, o):
    """The varint at d[o:]: (value, offset past it)."""
    v, sh = 0, 0
    while True:
        c = d[o]
        o += 1
        v |= (c & 0x7f) << sh
        sh += 7
        if c < 0x80:
            return v, o


# bnt(5) records, for tests that patch a stream and must keep its
# checksums right (so that only the check under test judges it)
_CRC = []
for _i in range(256):
    _c = _i
    for _ in range(8):
        _c = (_c >> 1) ^ 0x82F63B78 if _c & 1 else _c >> 1
    _CRC.append(_c)


def crc32c(b):
    """CRC-32C (Castagnoli), as bnt(5) records carry it."""
    c = 0xFFFFFFFF
    for x in b:
        c = _CRC[(c ^ x) & 0xFF] ^ (c >> 8)
    return c ^ 0xFFFFFFFF


def bnt_records(d):
    """The 64-byte file header of stream bytes d and its records, as
    (kind, flags, meta, data, offset) up to and with the first END."""
    off, out = 64, []
    while off < len(d):
        kind, fl, ml, dl = struct.unpack_from('<IIQQ', d, off)
        mo = off + 32
        do = mo + ml + (-(32 + ml) % 64)
        out.append((kind, fl, d[mo:mo + ml], d[do:do + dl], off))
        off = do + dl + (-dl % 64)
        if kind == 0x80000000:
            break
    return d[:64], out


def bnt_record(kind, flags, meta, data):
    """One record's bytes: header with both checksums, meta, data, padding."""
    h = struct.pack('<IIQQI', kind, flags, len(meta), len(data),
                    crc32c(meta + data))
    r = h + struct.pack('<I', crc32c(h)) + meta
    return r + b'\0' * (-len(r) % 64) + data + b'\0' * (-len(data) % 64)


def bnt_tensor_name(meta):
    """The name in a TENSOR record's metadata."""
    return meta[24 + 8 * meta[1]:].decode()
