#!/usr/bin/env python3
# mkseeds.py OUT: seed corpora for the fuzz targets, one folder per
# target under OUT: small hand-built valid inputs of each format (built
# byte by byte, standard library only) plus the small fixtures of
# tests/fixtures and ../shared/fixtures (the corruption corpus too).
import glob
import io
import json
import os
import shutil
import struct
import sys
import tarfile
import warnings
import zipfile

OUT = sys.argv[1]
ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), '..', '..')
FIX = [os.path.join(ROOT, 'tests', 'fixtures'),
       os.path.join(ROOT, '..', 'shared', 'fixtures')]
DATE = (1980, 1, 1, 0, 0, 0)
MAXSEED = 1 << 20


def put(target, name, data):
    d = os.path.join(OUT, target)
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, name), 'wb') as f:
        f.write(data)


def copy(target, pattern, limit=MAXSEED):
    for base in FIX:
        for p in sorted(glob.glob(os.path.join(base, pattern),
                                  recursive=True)):
            if os.path.isfile(p) and os.path.getsize(p) <= limit:
                with open(p, 'rb') as f:
                    rel = os.path.relpath(p, base).replace('/', '_')
                    put(target, rel, f.read())


def safetensors(tensors):
    hdr, data = {'__metadata__': {'format': 'pt'}}, b''
    for name, dt, shape, raw in tensors:
        hdr[name] = {'dtype': dt, 'shape': shape,
                     'data_offsets': [len(data), len(data) + len(raw)]}
        data += raw
    h = json.dumps(hdr).encode()
    h += b' ' * (-len(h) % 8)
    return struct.pack('<Q', len(h)) + h + data


def gguf():
    def s(x):
        b = x.encode()
        return struct.pack('<Q', len(b)) + b
    kv = [(s('general.architecture'), 8, s('llama')),
          (s('llama.block_count'), 4, struct.pack('<I', 1)),
          (s('tokenizer.ggml.tokens'), 9,
           struct.pack('<IQ', 8, 2) + s('a') + s('b'))]
    out = b'GGUF' + struct.pack('<IQQ', 3, 2, len(kv))
    for k, t, v in kv:
        out += k + struct.pack('<I', t) + v
    # tensors: f32 [4], f16 [2x2]
    out += s('a.weight') + struct.pack('<IQII', 1, 4, 0, 0)
    out += s('b.weight') + struct.pack('<IQQIQ', 2, 2, 2, 1, 32)
    out += b'\0' * (-len(out) % 32)
    out += struct.pack('<4f', 1, 2, 3, 4) + b'\0' * 16
    out += struct.pack('<4e', 1, -1, 0.5, 2)
    return out


def pickle_pt():
    p = bytearray(b'\x80\x02}(')

    def ustr(x):
        b = x.encode()
        p.extend(b'X' + struct.pack('<I', len(b)) + b)

    def glob_(m, n):
        p.extend(b'c' + m.encode() + b'\n' + n.encode() + b'\n')

    def bint(v):
        p.extend(b'J' + struct.pack('<i', v))
    ustr('w')
    glob_('torch._utils', '_rebuild_tensor_v2')
    p.extend(b'((')
    ustr('storage')
    glob_('torch', 'FloatStorage')
    ustr('0')
    ustr('cpu')
    bint(6)
    p.extend(b'tQ')
    bint(0)
    p.extend(b'(')
    bint(2)
    bint(3)
    p.extend(b't(')
    bint(3)
    bint(1)
    p.extend(b't\x89')
    glob_('collections', 'OrderedDict')
    p.extend(b')RtR')
    p.extend(b'u.')
    return bytes(p)


def zipped(members):
    b = io.BytesIO()
    with zipfile.ZipFile(b, 'w', zipfile.ZIP_STORED) as z:
        for name, data in members:
            z.writestr(zipfile.ZipInfo(name, DATE), data)
    return b.getvalue()


def npy(descr, shape, raw):
    h = "{'descr': '%s', 'fortran_order': False, 'shape': %s, }" % (
        descr, repr(tuple(shape)))
    h += ' ' * (-(len(h) + 11) % 64) + '\n'
    return b'\x93NUMPY\x01\x00' + struct.pack('<H', len(h)) + h.encode() + raw


def tokenizer_json(model):
    if model == 'BPE':
        vocab = {'a': 0, 'b': 1, 'ab': 2, '\u0120': 3, '<s>': 4}
        m = {'type': 'BPE', 'vocab': vocab, 'merges': ['a b']}
        pre = {'type': 'ByteLevel', 'add_prefix_space': False}
    else:
        vocab = {'<unk>': 0, '<s>': 1, '</s>': 2, '\u2581': 3, 'a': 4,
                 '\u2581a': 5, '<0x41>': 6}
        m = {'type': 'BPE', 'vocab': vocab, 'merges': ['\u2581 a'],
             'byte_fallback': True, 'unk_token': '<unk>'}
        pre = None
    return json.dumps({
        'version': '1.0',
        'added_tokens': [{'id': 4 if model == 'BPE' else 1,
                          'content': '<s>', 'special': True}],
        'pre_tokenizer': pre, 'model': m}).encode()


CONFIG = json.dumps({
    'architectures': ['LlamaForCausalLM'], 'model_type': 'llama',
    'hidden_size': 64, 'intermediate_size': 128, 'num_attention_heads': 4,
    'num_key_value_heads': 2, 'num_hidden_layers': 2, 'vocab_size': 256,
    'max_position_embeddings': 128, 'rms_norm_eps': 1e-5,
    'rope_theta': 10000.0, 'tie_word_embeddings': False}).encode()

st = safetensors([('model.embed_tokens.weight', 'F32', [2, 2],
                   struct.pack('<4f', 1, 2, 3, 4)),
                  ('model.norm.weight', 'BF16', [2], b'\x80\x3f\x00\x40'),
                  ('lm_head.weight', 'F16', [2, 2],
                   struct.pack('<4e', 1, 2, 3, 4))])
pt = zipped([('m/data.pkl', pickle_pt()), ('m/byteorder', b'little'),
             ('m/data/0', struct.pack('<6f', 1, 2, 3, 4, 5, 6)),
             ('m/version', b'3\n')])

put('bnt_stream', 'empty', b'')
copy('bnt_stream', 'bad/*.bnt')
copy('bnt_map', 'bad/*.bnt')
# one stream per model: concatenated streams and bytes after END (the
# odd lengths reach the stream target's all-streams mode)
with open(os.path.join(ROOT, 'tests', 'fixtures', 'bad', 'good.bnt'),
          'rb') as f:
    good = f.read()
for t in ('bnt_stream', 'bnt_map'):
    put(t, 'concat-two', good + good)
    put(t, 'concat-two-odd', good + good + b'\0')
    put(t, 'trailing-byte', good + b'x')
    put(t, 'trailing-magic', good + b'\x89BNT\r\n\x1a\n')
    put(t, 'trailing-zeros', good + bytes(64))
put('safetensors', 'tiny.safetensors', st)
copy('safetensors', 'bad/st-*')
copy('safetensors', '**/*.safetensors', 400000)
put('gguf', 'tiny.gguf', gguf())
copy('gguf', 'bad/gguf-*')
put('pickle', 'tensor.pkl', pickle_pt())
with zipfile.ZipFile(os.path.join(ROOT, 'tests', 'fixtures', 'bad',
                                  'evil-os-system.pt')) as z:
    for n in z.namelist():
        if n.endswith('.pkl'):
            put('pickle', 'evil.pkl', z.read(n))
put('torch', 'tiny.pt', pt)
copy('torch', 'bad/*.pt')
# ambiguous: a member twice (zipfile warns, and writes it)
with warnings.catch_warnings():
    warnings.simplefilter('ignore')
    dup_pt = zipped([('m/data.pkl', pickle_pt()), ('m/byteorder', b'little'),
                     ('m/data/0', struct.pack('<6f', 1, 2, 3, 4, 5, 6)),
                     ('m/data/0', struct.pack('<6f', 6, 5, 4, 3, 2, 1)),
                     ('m/version', b'3\n')])
    dup_npz = zipped([('a.npy', npy('<f4', [2], struct.pack('<2f', 1, 2))),
                      ('a.npy', npy('<f4', [1], struct.pack('<f', 3)))])
put('torch', 'dup-member.pt', dup_pt)
put('npy', 'f32.npy', npy('<f4', [2, 3], struct.pack('<6f', *range(6))))
put('npy', 'f16.npy', npy('<f2', [4], struct.pack('<4e', 1, 2, 3, 4)))
put('npy', 'i8.npy', npy('|i1', [3], b'\x01\xff\x00'))
put('npy', 'tokens-u2.npy', npy('<u2', [4], struct.pack('<4H', 1, 2, 3, 4)))
put('npy', 'tokens-i8.npy', npy('<i8', [2], struct.pack('<2q', 7, -1)))
copy('npy', 'small.np?')
copy('npy', 'bad/npy-*')
put('npy', 'tiny.npz', zipped([('a.npy', npy('<f4', [2],
                                               struct.pack('<2f', 1, 2)))]))
put('npy', 'dup-member.npz', dup_npz)


def tarred(members):
    tb = io.BytesIO()
    with tarfile.open(fileobj=tb, mode='w',
                      format=tarfile.USTAR_FORMAT) as t:
        for name, data in members:
            i = tarfile.TarInfo(name)
            i.size, i.mtime = len(data), 0
            t.addfile(i, io.BytesIO(data))
    return tb.getvalue()


model = [('m/config.json', CONFIG), ('m/tokenizer.json', tokenizer_json('BPE')),
         ('m/model.safetensors', st)]
put('tar', 'tiny.tar', tarred(model))
# ambiguous: a member twice, one path spelt two ways, two model
# directories, a tokenizer apart; and members the import skips
put('tar', 'dup-member.tar', tarred(model + [('m/config.json', CONFIG)]))
put('tar', 'dup-dotslash.tar', tarred(model + [('./m//config.json', CONFIG)]))
put('tar', 'two-dirs.tar', tarred([('a/config.json', CONFIG)] + model))
put('tar', 'tok-apart.tar', tarred(model[:1] + model[2:] +
                                   [('m/tok/tokenizer.json',
                                     tokenizer_json('BPE'))]))
unused = tarred(model + [('m/zeros.bin', bytes(4096)),
                         ('README', b'notes\n')])
put('tar', 'unused.tar', unused)
# odd length: fz_tar reads as bnpack does, skipping unused members
put('tar', 'unused-odd.tar', unused + b'\0')
put('tar', 'index-odd-shard.tar', tarred(
    model[:2] + [('m/weights.bin', st),
                 ('m/model.safetensors.index.json', json.dumps(
                     {'weight_map': {'model.norm.weight': 'weights.bin'}})
                  .encode())]))
copy('tar', 'bad/tar-*')
put('tokenizer', 'bpe.json', tokenizer_json('BPE'))
put('tokenizer', 'spm.json', tokenizer_json('SPM'))
copy('tokenizer', '**/tokenizer.json', 8192)
put('config', 'llama.json', CONFIG)
# the rules of common/config.c at their edges: a known arch with ids at
# the last row, an arch bntools does not run, a llama3 rope_scaling
C = json.loads(CONFIG)
put('config', 'ids.json', json.dumps(dict(
    C, bos_token_id=0, eos_token_id=255, pad_token_id=[254],
    head_dim=16)).encode())
put('config', 'other-arch.json', json.dumps(dict(
    C, model_type='gpt2', architectures=['GPT2LMHeadModel'])).encode())
put('config', 'llama3.json', json.dumps(dict(C, rope_scaling={
    'rope_type': 'llama3', 'factor': 8.0, 'low_freq_factor': 1.0,
    'high_freq_factor': 4.0,
    'original_max_position_embeddings': 64})).encode())
copy('config', '**/config.json')
copy('chat', 'chat/*.jinja')
