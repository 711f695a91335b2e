#!/usr/bin/env python3
"""conv.py IN.cu OUT.cpp: rewrites a .cu file into host C++ for the emulator (emu.cpp).

kernel<<<grid, block[, smem[, stream]]>>>(args) becomes emu_launch(..., emu_args(kernel, args)),
and `extern __shared__ T name[];` a pointer to the block's dynamic shared memory. Everything
else is left to the fake headers in include/."""
import re
import sys


def split_top(s):
    """Splits s at the commas outside brackets."""
    parts, depth, cur = [], 0, ''
    for ch in s:
        depth += ch in '([{'
        depth -= ch in ')]}'
        if ch == ',' and depth == 0:
            parts.append(cur)
            cur = ''
        else:
            cur += ch
    return parts + [cur]


def convert(src, path):
    src = re.sub(r'extern\s+__shared__\s+(?:__align__\(\s*\d+\s*\)\s+)?(\w+(?:\s+\w+)*?)\s+(\w+)\s*\[\]\s*;',
                 r'\1 *\2 = (\1 *)emu_dyn_smem();', src)
    out, i = [], 0
    while (j := src.find('<<<', i)) >= 0:
        k = j
        while k > 0 and (src[k - 1].isalnum() or src[k - 1] == '_'):
            k -= 1
        name = src[k:j]
        e = src.find('>>>', j)
        cfg = split_top(src[j + 3:e])
        cfg += ['0', 'nullptr'][len(cfg) - 2:]
        p = e + 3
        while src[p].isspace():
            p += 1
        if src[p] != '(':
            sys.exit('%s:%d: no argument list after >>>' % (path, src[:j].count('\n') + 1))
        depth, q = 0, p
        while True:
            depth += src[q] == '('
            depth -= src[q] == ')'
            if depth == 0:
                break
            q += 1
        line = src[:j].count('\n') + 1
        out.append(src[i:k])
        # The arguments are evaluated and copied now (emu_args), as a launch does; the kernel
        # may run later, when its stream is waited for.
        args = src[p + 1:q].strip()
        out.append('emu_launch((const void *)%s, "%s", "%s", %d, dim3(%s), dim3(%s), (size_t)(%s), %s, '
                   'emu_args([](auto... a) { %s(a...); }%s))'
                   % (name, name, path, line, *cfg[:4], name, ', ' + args if args else ''))
        i = q + 1
    out.append(src[i:])
    # #line keeps compiler, ASan and assert locations on the .cu file (the rewrite adds no lines).
    return '#line 1 "%s"\n' % path + ''.join(out)


if __name__ == '__main__':
    with open(sys.argv[1]) as f:
        text = convert(f.read(), sys.argv[1])
    with open(sys.argv[2], 'w') as f:
        f.write(text)
