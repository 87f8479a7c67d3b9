#!/usr/bin/env python3
"""Write a crafted tar archive to stdout: make_tar.py KIND.

The hostile archives of tree_hostile.sh (and a few good ones), built with
tarfile so that entries no tar(1) would create can be made: absolute names,
'..', links out of the tree, device nodes, set-id bits, duplicates.
"""
import io
import sys
import tarfile


def entry(name, kind=tarfile.REGTYPE, data=b"", link="", mode=0o644, uid=0, gid=0, major=0, minor=0):
    return (name, kind, data, link, mode, uid, gid, major, minor)


def f(name, data=b"x\n", mode=0o644, **kw):
    return entry(name, data=data, mode=mode, **kw)


def d(name, mode=0o755):
    return entry(name, tarfile.DIRTYPE, mode=mode)


def sym(name, link):
    return entry(name, tarfile.SYMTYPE, link=link, mode=0o777)


def hard(name, link):
    return entry(name, tarfile.LNKTYPE, link=link)


KINDS = {
    "absolute": [d("."), f("ok"), f("/tmp/mutx-evil")],
    "dotdot": [d("."), f("ok"), f("../evil")],
    "dotdot-inner": [d("."), d("a"), f("a/../../evil")],
    "symlink-absolute": [d("."), sym("passwd", "/etc/passwd")],
    "symlink-up": [d("."), d("a"), sym("a/up", "../../etc")],
    "symlink-chain": [d("."), d("d"), sym("d/up", ".."), sym("esc", "d/up/..")],
    "hardlink-absolute": [d("."), hard("passwd", "/etc/passwd")],
    "hardlink-up": [d("."), hard("evil", "../outside")],
    "hardlink-missing": [d("."), hard("evil", "nothere")],
    "hardlink-directory": [d("."), d("sub"), hard("evil", "sub")],
    "through-symlink": [d("."), d("sub"), sym("l", "sub"), f("l/f")],
    "through-symlink-out": [d("."), sym("l", "."), f("l/f")],
    "char-device": [d("."), entry("tty", tarfile.CHRTYPE, mode=0o666, major=5, minor=0)],
    "block-device": [d("."), entry("sda", tarfile.BLKTYPE, mode=0o660, major=8, minor=0)],
    "fifo": [d("."), entry("pipe", tarfile.FIFOTYPE, mode=0o644)],
    "setuid": [d("."), f("bin/su", mode=0o4755)],
    "setgid": [d("."), f("bin/wall", mode=0o2755)],
    "duplicate": [d("."), f("conf"), sym("conf", "/etc/shadow")],
    "top-not-directory": [f(".")],
    "empty-name": [d("."), f("")],
    # Names that must not reach a terminal raw (tree_messages.sh).
    "control-name": [d("."), sym("x\nError: forged line\x1b[31m\x9b", "/etc/passwd")],
    "long-name": [d("."), f("n" * 300)],
    "long-path": [d(".")] + [d("/".join(["d" * 200] * i)) for i in range(1, 24)] + [f("/".join(["d" * 200] * 23) + "/f")],
    # Good ones.
    "good": [d("."), d("sub"), f("a", b"a\n"), f("sub/b", b"b\n"), sym("l", "a"), hard("h", "a"),
             sym("sub/up", "../a"), d("ro", 0o555), f("ro/f", b"r\n")],
    "owners": [d("."), f("owned", b"o\n", uid=1234, gid=2345)],
    "special-ok": [d("."), entry("pipe", tarfile.FIFOTYPE, mode=0o644), f("su", mode=0o4755)],
    "no-top": [f("a/b/c", b"deep\n")],
    "setgid-dir": [d("."), d("shared", 0o2775), f("shared/f")],
}


def build(kind):
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.PAX_FORMAT) as t:
        for name, typ, data, link, mode, uid, gid, major, minor in KINDS[kind]:
            info = tarfile.TarInfo(name)
            info.type = typ
            info.mode = mode
            info.uid, info.gid = uid, gid
            info.mtime = 1700000000
            info.linkname = link
            info.devmajor, info.devminor = major, minor
            if typ == tarfile.REGTYPE:
                info.size = len(data)
                t.addfile(info, io.BytesIO(data))
            else:
                t.addfile(info)
    return buf.getvalue()


if __name__ == "__main__":
    if sys.argv[1] == "--list":
        print("\n".join(KINDS))
    else:
        sys.stdout.buffer.write(build(sys.argv[1]))
