#!/usr/bin/env python3
# mknpy.py: write tests/fixtures/small.npy and tests/fixtures/small.npz.
#
# Run once by hand (python3 tests/gen/mknpy.py from the repository root);
# the outputs are committed, the build never runs this.  Standard library
# only: the .npy format (version 1.0) is written the way numpy.save does,
# header padded with spaces to a multiple of 64 bytes and ended by '\n'.
# The values are exact in every type, so tests/unit/t_torch.c compares
# them literally.
#
# small.npy   '<f4' (2, 3): 0.5 -1 2 3.25 -0.125 100
# small.npz   (deflated, as numpy.savez_compressed writes it)
#   a.npy                           '<f4' (2, 3)  as small.npy
#   b.npy                           '<i8' (3,)    -1 0 9000000000
#   c.npy                           '|u1' ()      7
#   model.embed_tokens.weight.npy   '<f2' (2, 2)  1 -2 0.5 65504
#                                   (imported as token_embd.weight)
import struct
import zipfile

DATE = (1980, 1, 1, 0, 0, 0)


def npy(descr, shape, fmt, values):
    if len(shape) == 1:
        s = '(%d,)' % shape[0]
    else:
        s = '(' + ', '.join(str(d) for d in shape) + ')'
    h = "{'descr': '%s', 'fortran_order': False, 'shape': %s, }" % (descr, s)
    total = 10 + len(h) + 1
    h += ' ' * (-total % 64) + '\n'
    return (b'\x93NUMPY\x01\x00' + struct.pack('<H', len(h)) + h.encode()
            + struct.pack('<%d%s' % (len(values), fmt), *values))


a = npy('<f4', (2, 3), 'f', [0.5, -1, 2, 3.25, -0.125, 100])
with open('tests/fixtures/small.npy', 'wb') as f:
    f.write(a)

members = (
    ('a.npy', a),
    ('b.npy', npy('<i8', (3,), 'q', [-1, 0, 9000000000])),
    ('c.npy', npy('|u1', (), 'B', [7])),
    ('model.embed_tokens.weight.npy',
     npy('<f2', (2, 2), 'e', [1, -2, 0.5, 65504])),
)
with zipfile.ZipFile('tests/fixtures/small.npz', 'w',
                     zipfile.ZIP_DEFLATED) as z:
    for name, data in members:
        info = zipfile.ZipInfo(name, DATE)
        info.compress_type = zipfile.ZIP_DEFLATED
        z.writestr(info, data)
