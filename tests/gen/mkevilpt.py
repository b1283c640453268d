#!/usr/bin/env python3
# mkevilpt.py: write the hostile torch.save-style zips in tests/fixtures/bad/.
#
# Run once by hand (python3 tests/gen/mkevilpt.py from the repository
# root); the outputs are committed, the build never runs this.  Uses the
# standard library only and builds the pickles byte by byte, so nothing
# here is ever unpickled.
#
# evil-os-system.pt     data.pkl: PROTO 2, GLOBAL 'os system', the
#                       argument tuple ('echo pwned',), REDUCE, STOP
# evil-stack-global.pt  data.pkl: PROTO 4, STACK_GLOBAL 'builtins' 'eval',
#                       REDUCE, STOP
import struct
import zipfile

DATE = (1980, 1, 1, 0, 0, 0)


def short_str(s):
    b = s.encode()
    return b'\x8c' + bytes([len(b)]) + b          # SHORT_BINUNICODE


def binunicode(s):
    b = s.encode()
    return b'X' + struct.pack('<I', len(b)) + b   # BINUNICODE


def write(path, pkl):
    with zipfile.ZipFile(path, 'w', zipfile.ZIP_STORED) as z:
        for name, data in (('evil/data.pkl', pkl),
                           ('evil/byteorder', b'little'),
                           ('evil/version', b'3\n')):
            info = zipfile.ZipInfo(name, DATE)
            info.compress_type = zipfile.ZIP_STORED
            z.writestr(info, data)


os_system = (b'\x80\x02'                        # PROTO 2
             + b'cos\nsystem\n'                 # GLOBAL 'os system'
             + binunicode('echo pwned')
             + b'\x85'                          # TUPLE1
             + b'R'                             # REDUCE
             + b'.')                            # STOP
write('tests/fixtures/bad/evil-os-system.pt', os_system)

stack_global = (b'\x80\x04'                     # PROTO 4
                + short_str('builtins')
                + short_str('eval')
                + b'\x93'                       # STACK_GLOBAL
                + short_str('1+1')
                + b'\x85'                       # TUPLE1
                + b'R'                          # REDUCE
                + b'.')                         # STOP
write('tests/fixtures/bad/evil-stack-global.pt', stack_global)
