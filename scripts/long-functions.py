#!/usr/bin/env python3
"""Lists the source functions under operator/ longer than a limit (80 lines).

A function is a brace block whose head (the text since the previous `;`, `{`
or `}`) has a parameter list and is not a control statement, and which is not
inside another function (lambdas count toward the function that holds them).
Namespace, class, struct and enum bodies are containers, not functions. The
count is the lines from the head's first line to the closing brace.

Usage: long-functions.py [--max N] [--allow FILE] [OPERATOR_DIR]
Prints "file:line: name: N lines" per function over the limit. With --allow,
exits 1 when a function over the limit is not named in FILE (one "file name"
a line, as printed without the line numbers), or when FILE names one that is
no longer over it (so the list only shrinks); otherwise exits 0.
"""
import argparse
import os
import re
import sys

CONTROL = re.compile(r'^\s*(if|for|while|switch|catch|else|do|return|try)\b')
CONTAINER = re.compile(r'\b(namespace|class|struct|union|enum)\b[^()]*$')
ATTRIBUTE = re.compile(r'__attribute__\s*\(\(.*?\)\)|alignas\s*\([^)]*\)', re.S)
NAME = re.compile(r'([A-Za-z_~][A-Za-z0-9_:<>~]*(?:operator\S*)?)\s*\(')


def is_digit_separator(text, i):
    """The ' of 10'000 or 0xFF'FF: inside a number, not a character literal."""
    if i + 1 >= len(text) or not text[i + 1].isalnum():
        return False
    j = i
    while j > 0 and (text[j - 1] in "'xXbB" or text[j - 1] in "0123456789abcdefABCDEF"):
        j -= 1
    return j < i and text[j].isdigit() and not (j > 0 and (text[j - 1].isalnum() or text[j - 1] == '_'))


def strip(text):
    """Comments, strings and character literals blanked, newlines kept."""
    out = []
    i, n = 0, len(text)
    while i < n:
        c = text[i]
        if text.startswith('//', i):
            j = text.find('\n', i)
            j = n if j < 0 else j
            out.append(' ' * (j - i))
            i = j
        elif text.startswith('/*', i):
            j = text.find('*/', i + 2)
            j = n if j < 0 else j + 2
            out.append(''.join(ch if ch == '\n' else ' ' for ch in text[i:j]))
            i = j
        elif text.startswith('R"', i):
            m = re.match(r'R"([^(\s]*)\(', text[i:])
            if not m:
                out.append(c)
                i += 1
                continue
            end = ')' + m.group(1) + '"'
            j = text.find(end, i + m.end())
            j = n if j < 0 else j + len(end)
            out.append(''.join(ch if ch == '\n' else ' ' for ch in text[i:j]))
            i = j
        elif c == "'" and is_digit_separator(text, i):
            out.append(c)
            i += 1
        elif c in '"\'':
            j = i + 1
            while j < n and text[j] != c and text[j] != '\n':
                j += 2 if text[j] == '\\' else 1
            out.append(c + ' ' * (min(j, n) - i - 1) + (c if j < n else ''))
            i = j + 1
        else:
            out.append(c)
            i += 1
    return ''.join(out)


def functions(text):
    """(name, first line, line count) of each outermost function body."""
    code = strip(text)
    stack = []  # per open brace: 'container', 'function' or 'block'
    head_start = 0
    found = []
    for i, c in enumerate(code):
        if c in ';':
            head_start = i + 1
        elif c == '{':
            head = ATTRIBUTE.sub(' ', code[head_start:i])
            inside_function = any(kind == 'function' for kind, _ in stack)
            if inside_function:
                stack.append(('block', None))
            elif CONTAINER.search(head.replace('\n', ' ')) or 'extern "C"' in head:
                stack.append(('container', None))
            elif '(' in head and not CONTROL.match(head.strip()) and not head.strip().startswith('='):
                start = head_start + len(head) - len(head.lstrip())
                match = NAME.search(head)
                name = match.group(1) if match else '?'
                stack.append(('function', (name, code.count('\n', 0, start) + 1)))
            else:
                stack.append(('block', None))
            head_start = i + 1
        elif c == '}':
            if stack:
                kind, info = stack.pop()
                if kind == 'function':
                    name, first = info
                    found.append((name, first, code.count('\n', 0, i) + 1 - first + 1))
            head_start = i + 1
    return found


def scan(root, limit):
    long = []
    for directory, _, files in os.walk(root):
        for file in sorted(files):
            if not file.endswith(('.cpp', '.h')):
                continue
            path = os.path.join(directory, file)
            relative = os.path.relpath(path, root)
            with open(path, encoding='utf-8', errors='replace') as f:
                text = f.read()
            for name, line, count in functions(text):
                if count > limit:
                    long.append((relative, line, name, count))
    return sorted(long)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument('--max', type=int, default=80)
    parser.add_argument('--allow')
    parser.add_argument('root', nargs='?', default=os.path.join(os.path.dirname(__file__), '..', 'operator'))
    args = parser.parse_args()
    long = scan(args.root, args.max)
    for relative, line, name, count in long:
        print(f'{relative}:{line}: {name}: {count} lines')
    if not args.allow:
        return 0
    with open(args.allow, encoding='utf-8') as f:
        allowed = {l.strip() for l in f if l.strip() and not l.startswith('#')}
    present = {f'{relative} {name}' for relative, _, name, _ in long}
    status = 0
    for entry in sorted(present - allowed):
        print(f'FAIL: {entry} is over {args.max} lines: split it into named phases', file=sys.stderr)
        status = 1
    for entry in sorted(allowed - present):
        print(f'FAIL: {entry} is no longer over {args.max} lines: drop it from {args.allow}', file=sys.stderr)
        status = 1
    return status


if __name__ == '__main__':
    sys.exit(main())
