#!/usr/bin/env python3
"""Capstone oracle for DisassemblerOracleTests (Tests/XtensaCoreTests/DisassemblerOracleTests.swift).

Usage:
  capstone_disasm.py --check            print {"capstone": "<version>"} and exit 0 if Capstone 6 with
                                        Xtensa support (PyPI capstone6pwndbg) can be imported, else exit 3
  capstone_disasm.py REQUEST.json       decode instructions, print the answer as JSON on stdout

REQUEST.json: {"sections": [{"base": ADDRESS, "hex": "BYTES IN HEX", "offsets": [OFFSET, ...]}, ...]}
Answer:       {"capstone": "<version>", "results": [[ENTRY per offset] per section]}
where ENTRY is [size, mnemonic, op_str] for what Capstone decodes from the bytes at OFFSET (at most
3 bytes: the longest ESP32 instruction) at address BASE + OFFSET, or null when Capstone fails.
Every offset is decoded on its own, so both sides always look at the same address.
"""
import json
import sys

CS_ARCH_XTENSA = 21
CS_MODE_XTENSA_ESP32 = 2


def load():
    try:
        import capstone6pwndbg as cs
    except ImportError as e:
        print(json.dumps({"error": "cannot import capstone6pwndbg: %s" % e}))
        sys.exit(3)
    try:
        md = cs.Cs(CS_ARCH_XTENSA, CS_MODE_XTENSA_ESP32)
    except Exception as e:  # Capstone built without Xtensa
        print(json.dumps({"error": "Capstone has no Xtensa/ESP32 support: %s" % e}))
        sys.exit(3)
    version = "%d.%d" % cs.cs_version()[:2]
    return md, version


def main(argv):
    md, version = load()
    if len(argv) == 2 and argv[1] == "--check":
        print(json.dumps({"capstone": version}))
        return 0
    if len(argv) != 2:
        print(__doc__, file=sys.stderr)
        return 2
    with open(argv[1]) as f:
        request = json.load(f)
    results = []
    for sec in request["sections"]:
        code = bytes.fromhex(sec["hex"])
        base = sec["base"]
        out = []
        for off in sec["offsets"]:
            entry = None
            for (_, size, mnemonic, op_str) in md.disasm_lite(code[off:off + 3], base + off, 1):
                entry = [size, mnemonic, op_str]
            out.append(entry)
        results.append(out)
    json.dump({"capstone": version, "results": results}, sys.stdout, separators=(",", ":"))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
