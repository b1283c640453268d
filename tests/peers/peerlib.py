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
