#!/usr/bin/env python3
"""Where the bytes of the WebAssembly client go: code size per origin.

Usage: bench/wasm/size_profile.py <compeit_core.wasm built with --profiling-funcs>
(scripts: bench/wasm/size.sh builds that variant and runs this).
"""
import re
import subprocess
import sys

GROUPS = [
    ("nlohmann::json", re.compile(r"nlohmann")),
    ("compeit core (client, chat client, codec)", re.compile(r"compeit")),
    ("libc printf/strtod/long double", re.compile(r"printf|fmt_|pop_arg|__(div|mul|add|sub|trunc|extend|fix|float)[a-z]*tf|fmodl|scanexp|decfloat|hexfloat|strto|__shgetc|__shlim|__floatscan|frexp|copysignl|scalbn")),
    ("allocator", re.compile(r"malloc|free|emmalloc|claim_more|sbrk|memalign")),
    ("libc++ containers/strings", re.compile(r"std::")),
]


def functions(path):
    out = subprocess.run(["wasm-objdump", "-d", path], capture_output=True, text=True, check=True).stdout
    current, start = None, None
    for line in out.splitlines():
        m = re.match(r"^([0-9a-f]+) func\[\d+\] <(.*)>:", line)
        if m:
            addr = int(m.group(1), 16)
            if current is not None:
                yield current, addr - start
            current, start = m.group(2), addr
    # the last function's size is unknown without the section end; it is small


def main():
    sizes = {name: 0 for name, _ in GROUPS}
    sizes["other (runtime, libc)"] = 0
    for name, size in functions(sys.argv[1]):
        for group, pattern in GROUPS:
            if pattern.search(name):
                sizes[group] += size
                break
        else:
            sizes["other (runtime, libc)"] += size
    total = sum(sizes.values())
    print(f"| origin | code bytes | share |\n|---|---:|---:|")
    for group, size in sorted(sizes.items(), key=lambda kv: -kv[1]):
        print(f"| {group} | {size:,} | {100 * size / total:.0f}% |")
    print(f"| total code | {total:,} | |")


if __name__ == "__main__":
    main()
