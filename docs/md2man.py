#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""Turn the man pages in docs/*.N.md into roff (man(7)), without pandoc.

Understands the subset those pages use: a '% NAME(N) source | manual'
title line, '# SECTION' headings, paragraphs, '**bold**' and '*italic*',
definition lists (a term line, then lines starting ':   '), '* ' bullets
and indented (4 spaces) example blocks.

Usage: md2man.py IN.md OUT.N
"""
import re
import sys


def esc(text):
    text = text.replace('\\', '\\e')
    text = re.sub(r'^([.\'])', r'\\&\1', text)
    return text.replace('-', '\\-')


def inline(text):
    text = esc(text)
    text = re.sub(r'\*\*(.+?)\*\*', r'\\fB\1\\fR', text)
    text = re.sub(r'(?<![\w*])\*([^*\s][^*]*?)\*(?![\w*])', r'\\fI\1\\fR', text)
    return text.replace('`', '')


def convert(lines):
    out = []
    title = lines[0].strip()
    m = re.match(r'%\s*(\S+)\((\d)\)\s*(.*?)\s*\|\s*(.*)', title)
    if not m:
        raise SystemExit('first line must be "% NAME(N) source | manual"')
    name, sec, source, manual = m.groups()
    out.append('.TH "%s" "%s" "" "%s" "%s"' % (name, sec, source, manual))
    para = []
    in_code = False

    def flush():
        if para:
            out.append(inline(' '.join(s.strip() for s in para)))
            para.clear()

    i = 1
    while i < len(lines):
        line = lines[i].rstrip('\n')
        nxt = lines[i + 1].rstrip('\n') if i + 1 < len(lines) else ''
        if line.startswith('    ') and not para and not line.startswith('    :'):
            if not in_code:
                out.append('.PP\n.nf\n.RS 4')
                in_code = True
            out.append(esc(line[4:]))
            i += 1
            continue
        if in_code:
            out.append('.RE\n.fi')
            in_code = False
        if line.startswith('# '):
            flush()
            out.append('.SH ' + esc(line[2:].strip().upper()))
        elif not line.strip():
            flush()
        elif nxt.startswith(':   '):
            flush()
            out.append('.TP\n' + inline(line.strip()))
            i += 1
            body = [nxt[4:]]
            while i + 1 < len(lines) and lines[i + 1].startswith('    ') and lines[i + 1].strip():
                i += 1
                body.append(lines[i].strip())
            out.append(inline(' '.join(body)))
        elif line.startswith('* '):
            flush()
            out.append('.IP \\(bu 2\n' + inline(line[2:]))
        else:
            if not para:
                out.append('.PP')
            para.append(line)
        i += 1
    flush()
    if in_code:
        out.append('.RE\n.fi')
    return '\n'.join(out) + '\n'


def main():
    if len(sys.argv) != 3:
        raise SystemExit(__doc__)
    with open(sys.argv[1], encoding='utf-8') as f:
        roff = convert(f.readlines())
    with open(sys.argv[2], 'w', encoding='utf-8') as f:
        f.write(roff)


if __name__ == '__main__':
    main()
