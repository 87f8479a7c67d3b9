#!/usr/bin/env python3
"""The reader of tree_readers.sh: reader.py DIR STOPFILE.

Loops until STOPFILE exists: opens DIR once (a directory descriptor) and
reads every file f0..f9 through it, each holding "GENERATION\\n"; all must
carry the same generation. Prints "reads=R generations=G mixes=M
expired=E", and each mix found on stderr.

A generation is promised until the write after the one that swapped it
out: a read that outlasts two writes (a loaded machine) may find its
generation being removed. Such a read is counted as expired, not judged:
it is one whose directory is, once read, neither DIR nor .DIR.mutx-old
(removal starts only after it has left both names, and it never returns).
"""
import os
import sys

d, stop = sys.argv[1], sys.argv[2]
reads = mixes = expired = 0
parent, base = os.path.split(os.path.abspath(d))
old = os.path.join(parent, "." + base + ".mutx-old")


def still_named(fd):
    ino = os.fstat(fd).st_ino
    for p in (d, old):
        try:
            if os.stat(p).st_ino == ino:
                return True
        except FileNotFoundError:
            pass
    return False


seen = set()
while not os.path.exists(stop):
    try:
        fd = os.open(d, os.O_RDONLY | os.O_DIRECTORY)
    except FileNotFoundError:
        continue
    try:
        try:
            names = sorted(n for n in os.listdir(fd) if n.startswith("f"))
            gens = []
            for n in names:
                g = os.open(n, os.O_RDONLY, dir_fd=fd)
                gens.append(os.read(g, 64).decode().strip())
                os.close(g)
        except FileNotFoundError:
            names, gens = None, None
        if not still_named(fd):
            expired += 1
        elif names is None or len(names) != 10 or len(set(gens)) != 1:
            mixes += 1
            print("mix: %s" % list(zip(names, gens)), file=sys.stderr)
        else:
            seen.add(gens[0])
        reads += 1
    finally:
        os.close(fd)
print("reads=%d generations=%d mixes=%d expired=%d" % (reads, len(seen), mixes, expired))
