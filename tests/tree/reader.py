#!/usr/bin/env python3
"""The reader of tree_readers.sh: reader.py DIR STOPFILE.

Loops until STOPFILE exists: opens DIR once (a directory descriptor) and
reads every file f0..f{N-1} through it, each holding "GENERATION\\n"; all
must carry the same generation. Prints "reads=R generations=G mixes=M",
and each mix found on stderr.
"""
import os
import sys

d, stop = sys.argv[1], sys.argv[2]
reads = mixes = 0
seen = set()
while not os.path.exists(stop):
    try:
        fd = os.open(d, os.O_RDONLY | os.O_DIRECTORY)
    except FileNotFoundError:
        continue
    try:
        names = sorted(n for n in os.listdir(fd) if n.startswith("f"))
        gens = []
        for n in names:
            g = os.open(n, os.O_RDONLY, dir_fd=fd)
            gens.append(os.read(g, 64).decode().strip())
            os.close(g)
        if len(names) != 10 or len(set(gens)) != 1:
            mixes += 1
            print("mix: %s" % list(zip(names, gens)), file=sys.stderr)
        else:
            seen.add(gens[0])
        reads += 1
    finally:
        os.close(fd)
print("reads=%d generations=%d mixes=%d" % (reads, len(seen), mixes))
