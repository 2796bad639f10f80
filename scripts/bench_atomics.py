#!/usr/bin/env python3
"""Atomic read-modify-write operations per request, from a callgrind profile made with
`--dump-instr=yes` and the disassembly of the same binary.

    python3 scripts/bench_atomics.py PROFILE BINARY REQUESTS

Every `lock`-prefixed instruction and every `xchg` with a memory operand (an implicit lock) that
the profile executed in BINARY is counted, grouped by the function it is in, and divided by
REQUESTS. Instruction counts do not show these: an uncontended atomic operation is one
instruction but costs about 20 cycles, as it drains the store buffer. ring's SHA-256 assembly is
skipped (its constant tables sit in the code and disassemble as garbage; it has no atomics).

`scripts/bench_atomics.sh` runs a case of benches/compare.rs under callgrind and calls this.
"""

import collections
import re
import subprocess
import sys


def atomic_instructions(binary):
    """Address -> instruction text of every atomic read-modify-write in `binary`."""
    out = subprocess.run(
        ["objdump", "-d", "--no-show-raw-insn", binary],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    found = {}
    pattern = re.compile(r"^\s+([0-9a-f]+):\s+((?:lock\s+\S+|xchg\s+%\w+,\s*-?(?:0x[0-9a-f]+)?\().*)$")
    for line in out.splitlines():
        m = pattern.match(line)
        if m:
            found[int(m.group(1), 16)] = " ".join(m.group(2).split())
    return found


def executed(profile, binary):
    """(address, function) -> times executed, for the instructions of `binary`'s own object."""
    costs = collections.Counter()
    names = {}
    obj = None
    objects = {}
    fn = None
    last = 0
    skip_next = False
    for line in open(profile, encoding="utf-8", errors="replace"):
        line = line.rstrip("\n")
        m = re.match(r"^(c?ob|c?fn)=\((\d+)\)(?: (.*))?$", line)
        if m:
            kind, ident, name = m.groups()
            table = objects if kind.endswith("ob") else names
            if name:
                table[ident] = name
            if kind == "ob":
                obj = objects.get(ident)
            elif kind == "fn":
                fn = names.get(ident, ident)
            continue
        if line.startswith("calls="):
            skip_next = True  # the next cost line is the call's inclusive cost
            continue
        m = re.match(r"^(0x[0-9a-f]+|\+\d+|-\d+|\*)\s+\S+\s+(\d+)", line)
        if not m:
            continue
        pos = m.group(1)
        if pos.startswith("0x"):
            last = int(pos, 16)
        elif pos.startswith("+"):
            last += int(pos[1:])
        elif pos.startswith("-"):
            last -= int(pos[1:])
        if skip_next:
            skip_next = False
            continue
        if obj and obj.endswith(binary.split("/")[-1]):
            costs[(last, fn)] += int(m.group(2))
    return costs


def main():
    if len(sys.argv) != 4:
        sys.exit(__doc__)
    profile, binary, requests = sys.argv[1], sys.argv[2], float(sys.argv[3])
    atomics = atomic_instructions(binary)
    rows = collections.Counter()
    for (addr, fn), count in executed(profile, binary).items():
        if addr in atomics and "sha256_block_data_order" not in (fn or ""):
            rows[(fn, atomics[addr])] += count
    total = 0.0
    for (fn, text), count in rows.most_common():
        per = count / requests
        total += per
        if per >= 0.01:
            print(f"{per:7.2f}  {text:32s} {fn}")
    print(f"{total:7.2f}  atomic operations per request")


if __name__ == "__main__":
    main()
