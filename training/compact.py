#!/usr/bin/env python3
"""Copy an `imagic train` work folder compactly, so that a long run can be committed and resumed later.

    python3 training/compact.py WORK DEST

The trainer loads any floating-point dtype as float32, so the copy resumes as it is:

- weights and EMA weights (`t2i.safetensors`, `t2i_ema.safetensors`): float32 -> float16 (rounded to nearest);
- Adam's state (`*_adam.safetensors`): the second moment `v.*` -> bfloat16 (truncated), the first moment `m.*`
  -> bfloat16 zeros (it re-warms within a few steps), the step counter unchanged;
- everything else (the VAE, state.json, loss.csv) copied unchanged.

The resumed run is the same run in quality, not bit for bit. Needs only the Python standard library.
"""
import json
import os
import shutil
import struct
import sys
from array import array

HALF_WEIGHTS = {"t2i.safetensors", "t2i_ema.safetensors"}


def read(path):
    with open(path, "rb") as f:
        (n,) = struct.unpack("<Q", f.read(8))
        header = json.loads(f.read(n))
        data = f.read()
    return header, data


def to_float16(raw):
    values = array("f")
    values.frombytes(raw)
    return struct.pack(f"<{len(values)}e", *values)


def to_bfloat16(raw):
    halves = array("H")
    halves.frombytes(raw)
    if sys.byteorder != "little":
        raise SystemExit("error: this script assumes a little-endian machine")
    return halves[1::2].tobytes()  # the high 16 bits of each float32


def compact(src, dst, name):
    header, data = read(src)
    meta = header.pop("__metadata__", None)
    out_header, chunks, offset = {}, [], 0
    for key, info in sorted(header.items(), key=lambda kv: kv[1]["data_offsets"][0]):
        begin, end = info["data_offsets"]
        raw, dtype = data[begin:end], info["dtype"]
        if dtype == "F32" and name in HALF_WEIGHTS:
            raw, dtype = to_float16(raw), "F16"
        elif dtype == "F32" and name.endswith("_adam.safetensors") and key.startswith("v."):
            raw, dtype = to_bfloat16(raw), "BF16"
        elif dtype == "F32" and name.endswith("_adam.safetensors") and key.startswith("m."):
            raw, dtype = bytes((end - begin) // 2), "BF16"
        out_header[key] = {"dtype": dtype, "shape": info["shape"], "data_offsets": [offset, offset + len(raw)]}
        chunks.append(raw)
        offset += len(raw)
    if meta is not None:
        out_header["__metadata__"] = meta
    text = json.dumps(out_header, separators=(",", ":")).encode()
    text += b" " * (-len(text) % 8)
    tmp = dst + ".tmp"
    with open(tmp, "wb") as f:
        f.write(struct.pack("<Q", len(text)))
        f.write(text)
        for raw in chunks:
            f.write(raw)
    os.replace(tmp, dst)


def main():
    if len(sys.argv) != 3:
        raise SystemExit("usage: python3 training/compact.py WORK DEST  (DEST must not exist or be empty)")
    work, dest = sys.argv[1], sys.argv[2]
    if not os.path.isfile(os.path.join(work, "state.json")):
        raise SystemExit(f"error: {work} is not an imagic train work folder (no state.json)")
    os.makedirs(dest, exist_ok=True)
    if os.path.samefile(work, dest):
        raise SystemExit("error: DEST must differ from WORK")
    for name in sorted(os.listdir(work)):
        src, dst = os.path.join(work, name), os.path.join(dest, name)
        if name.endswith(".safetensors"):
            compact(src, dst, name)
        elif os.path.isfile(src):
            shutil.copyfile(src, dst)
        print(f"{name}: {os.path.getsize(src):,} -> {os.path.getsize(dst):,} bytes")


if __name__ == "__main__":
    main()
