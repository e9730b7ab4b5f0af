#!/usr/bin/python3
"""Generate the SunSpec model tables from the official JSON model definitions.

    protocols/sunspec/sunspec_gen.py protocols/sunspec/models \
        -o protocols/sunspec/gen/sunspec_models.c

Reads every model_<id>.json in the directory (the SunSpec Alliance's
information models, sunspec/models json/) and prints one C file of const
tables in the layout of protocols/sunspec/fg_sunspec.h: per model its groups
(the top-level group first, then nested groups in pre-order) and its points
(each group's points contiguous, in register order), plus one shared table of
enum / bitfield symbols.

Offsets are in 16-bit registers: a point of the top-level group counts from
the model's ID register (ID is 0, L is 1); a point of a nested group counts
from the start of one instance of that group. A group instance is its own
points followed by the instances of its child groups, in definition order.

Only what the model definitions use is accepted; anything else (an unknown
attribute, an unknown point type, a size that does not fit the type, a scale
factor that is not a sunssf point of the same or an enclosing group, a count
that is not a top-level uint16 point, a "fill the rest" group (count 0) that
is not the last group of the model, ...) stops the generator with an error
naming the file and the point, so a new release of the models cannot be
half-understood silently. Output is deterministic (models by id) and carries
"clang-format off" so the tables keep one row per point. Standard library only.
"""
import argparse
import json
import os
import re
import sys

# type -> (C enum suffix, registers; None = given by "size")
TYPES = {
    "int16": ("INT16", 1),
    "uint16": ("UINT16", 1),
    "count": ("COUNT", 1),
    "acc16": ("ACC16", 1),
    "enum16": ("ENUM16", 1),
    "bitfield16": ("BITFIELD16", 1),
    "pad": ("PAD", 1),
    "sunssf": ("SUNSSF", 1),
    "int32": ("INT32", 2),
    "uint32": ("UINT32", 2),
    "acc32": ("ACC32", 2),
    "enum32": ("ENUM32", 2),
    "bitfield32": ("BITFIELD32", 2),
    "ipaddr": ("IPADDR", 2),
    "float32": ("FLOAT32", 2),
    "int64": ("INT64", 4),
    "uint64": ("UINT64", 4),
    "acc64": ("ACC64", 4),
    "float64": ("FLOAT64", 4),
    "eui48": ("EUI48", 4),
    "ipv6addr": ("IPV6ADDR", 8),
    "string": ("STRING", None),
}
MODEL_KEYS = {"id", "group", "comments"}
GROUP_KEYS = {"name", "type", "points", "groups", "count", "label", "desc", "detail",
              "notes", "comments"}
POINT_KEYS = {"name", "type", "size", "sf", "units", "access", "mandatory", "static",
              "value", "label", "desc", "detail", "notes", "comments", "symbols",
              "standards"}
SYMBOL_KEYS = {"name", "value", "label", "desc", "detail", "notes", "comments",
               "standards"}
MAX_DEPTH = 3  # FG_SUNSPEC_MAX_DEPTH
MAX_GROUPS = 8  # FG_SUNSPEC_MAX_GROUPS
MAX_STRING_REGS = 32  # FG_SUNSPEC_STR_MAX / 2
NAME_RE = re.compile(r"^[A-Za-z_][A-Za-z0-9_-]*$")


class ModelError(Exception):
    pass


def no_dup_pairs(pairs):
    d = {}
    for k, v in pairs:
        if k in d:
            raise ModelError("duplicate key %r" % k)
        d[k] = v
    return d


def is_int(v):
    return isinstance(v, int) and not isinstance(v, bool)


class Model:
    def __init__(self, fname, mdef, syms):
        self.fname = fname
        self.syms = syms  # shared: list of (name, value)
        self.groups = []  # dicts, pre-order
        self.points = []  # dicts, group by group
        self.id = mdef["id"]
        top = mdef["group"]
        self.name = top.get("name")
        self.label = top.get("label", "")
        self.build(top, None, "", 0)
        self.resolve()
        self.check_header()

    def fail(self, where, msg):
        raise ModelError("%s: %s: %s" % (self.fname, where, msg))

    def build(self, g, parent, path, depth):
        where = path or "/"
        if not isinstance(g, dict):
            self.fail(where, "group is not an object")
        extra = set(g) - GROUP_KEYS
        if extra:
            self.fail(where, "unknown group attributes %s" % sorted(extra))
        name = g.get("name")
        if not isinstance(name, str) or not NAME_RE.match(name):
            self.fail(where, "bad group name %r" % (name,))
        if g.get("type") not in ("group", "sync"):
            self.fail(where, "group type %r" % (g.get("type"),))
        if parent is not None:
            path = path + "." + name if path else name
            where = "/" + path
        if depth > MAX_DEPTH:
            self.fail(where, "groups nested deeper than %d" % MAX_DEPTH)
        if len(self.groups) >= MAX_GROUPS:
            self.fail(where, "more than %d groups" % MAX_GROUPS)
        points = g.get("points")
        if not isinstance(points, list) or not points:
            self.fail(where, "a group needs at least one point")
        count = g.get("count", 1 if parent is not None else None)
        if parent is None and "count" in g:
            self.fail(where, "count on the top-level group")
        gi = len(self.groups)
        grp = {"name": name, "path": path, "parent": parent, "depth": depth,
               "count": count, "first": len(self.points), "children": [],
               "where": where}
        self.groups.append(grp)
        if parent is not None:
            self.groups[parent]["children"].append(gi)
        off = 0
        seen = set()
        for i, p in enumerate(points):
            pname = p.get("name") if isinstance(p, dict) else i
            pw = "%s/%s" % (where.rstrip("/"), pname)
            if not isinstance(p, dict):
                self.fail(pw, "point is not an object")
            extra = set(p) - POINT_KEYS
            if extra:
                self.fail(pw, "unknown point attributes %s" % sorted(extra))
            pname = p.get("name")
            if not isinstance(pname, str) or not NAME_RE.match(pname):
                self.fail(pw, "bad point name %r" % (pname,))
            if pname in seen:
                self.fail(pw, "duplicate point name")
            seen.add(pname)
            t = p.get("type")
            if t not in TYPES:
                self.fail(pw, "unknown point type %r" % (t,))
            size = p.get("size")
            want = TYPES[t][1]
            if not is_int(size) or size < 1 or (want is not None and size != want):
                self.fail(pw, "size %r does not fit type %s" % (size, t))
            if t == "string" and size > MAX_STRING_REGS:
                self.fail(pw, "string longer than %d registers" % MAX_STRING_REGS)
            access = p.get("access", "R")
            mand = p.get("mandatory", "O")
            static = p.get("static", "D")
            if access not in ("R", "RW") or mand not in ("O", "M") or static not in ("D",
                                                                                     "S"):
                self.fail(pw, "bad access / mandatory / static")
            units = p.get("units", "")
            if not isinstance(units, str):
                self.fail(pw, "units not a string")
            sf = p.get("sf")
            if sf is not None and not isinstance(sf, str):
                self.fail(pw, "only scale factors naming a sunssf point are supported")
            syms = p.get("symbols", [])
            if syms and t not in ("enum16", "enum32", "bitfield16", "bitfield32"):
                self.fail(pw, "symbols on a %s point" % t)
            sym_first = len(self.syms)
            snames = set()
            for s in syms:
                if not isinstance(s, dict) or set(s) - SYMBOL_KEYS:
                    self.fail(pw, "bad symbol %r" % (s,))
                if not isinstance(s.get("name"), str) or s["name"] in snames:
                    self.fail(pw, "symbol without name or repeated")
                snames.add(s["name"])
                v = s.get("value")
                if not is_int(v) or v < 0 or v > 0xFFFFFFFF:
                    self.fail(pw, "symbol %s value %r" % (s["name"], v))
                self.syms.append((s["name"], v))
            if off + size > 0xFFFF:
                self.fail(pw, "offset beyond 65535")
            self.points.append({
                "name": pname, "path": path + "." + pname if path else pname,
                "type": t, "size": size, "offset": off, "group": gi, "sf": sf,
                "units": units, "rw": access == "RW", "mand": mand == "M",
                "static": static == "S", "sym_first": sym_first, "nsym": len(syms),
                "where": pw})
            off += size
        grp["npoints"] = len(points)
        grp["len"] = off
        for sg in g.get("groups", []):
            if sg.get("name") in seen if isinstance(sg, dict) else False:
                self.fail(where, "group %s has the name of a point" % sg.get("name"))
            self.build(sg, gi, path, depth + 1)
        names = [self.groups[c]["name"] for c in grp["children"]]
        if len(set(names)) != len(names):
            self.fail(where, "duplicate group names %s" % names)

    def find_point(self, gi, name):
        g = self.groups[gi]
        for pi in range(g["first"], g["first"] + g["npoints"]):
            if self.points[pi]["name"] == name:
                return pi
        return None

    def resolve(self):
        for p in self.points:
            sf = p["sf"]
            if sf is None:
                p["sfi"] = None
                continue
            gi, found = p["group"], None
            while gi is not None and found is None:
                found = self.find_point(gi, sf)
                gi = self.groups[gi]["parent"]
            if found is None or self.points[found]["type"] != "sunssf":
                self.fail(p["where"], "scale factor %r is not a sunssf point of this "
                          "or an enclosing group" % sf)
            p["sfi"] = found
        for gi, g in enumerate(self.groups):
            c = g["count"]
            if g["parent"] is None:
                g["kind"], g["cval"] = "FIXED", 1
            elif is_int(c) and c > 0 and c <= 0xFFFF:
                g["kind"], g["cval"] = "FIXED", c
            elif is_int(c) and c == 0:
                # "As many as the model length holds": only unambiguous for the
                # last group of the model without variable groups inside it.
                sibs = self.groups[0]["children"]
                if g["parent"] != 0 or sibs[-1] != gi or self.variable_below(gi):
                    self.fail(g["where"], "count 0 (fill the rest of the model) only "
                              "for the last top-level group without variable groups")
                g["kind"], g["cval"] = "REST", 0
            elif isinstance(c, str):
                pi = self.find_point(0, c)
                if pi is None or self.points[pi]["type"] not in ("uint16", "count"):
                    self.fail(g["where"], "count %r is not a uint16 point of the "
                              "top-level group" % c)
                g["kind"], g["cval"] = "POINT", pi
            else:
                self.fail(g["where"], "bad count %r" % (c,))

    def variable_below(self, gi):
        for c in self.groups[gi]["children"]:
            cg = self.groups[c]
            if not is_int(cg["count"]) or cg["count"] == 0 or self.variable_below(c):
                return True
        return False

    def check_header(self):
        pts = self.points
        if len(pts) < 2 or pts[0]["name"] != "ID" or pts[1]["name"] != "L":
            self.fail("/", "the first two points must be ID and L")
        if pts[0]["type"] != "uint16" or pts[1]["type"] != "uint16":
            self.fail("/", "ID and L must be uint16")

    def fixed_len(self):
        """L of the model with every variable group empty."""

        def inst(gi):
            g = self.groups[gi]
            n = g["len"]
            for c in g["children"]:
                cg = self.groups[c]
                if cg["kind"] == "FIXED":
                    n += cg["cval"] * inst(c)
            return n

        n = inst(0) - 2
        if n > 0xFFFF:
            self.fail("/", "model longer than 65535 registers")
        return n


def c_str(s):
    out = []
    for b in s.encode("utf-8"):
        c = chr(b)
        if c in '"\\':
            out.append("\\" + c)
        elif 0x20 <= b < 0x7F and c != "?":  # '?' could start a trigraph
            out.append(c)
        else:
            out.append("\\%03o" % b)
    return '"' + "".join(out) + '"'


def load(path):
    with open(path, "rb") as f:
        raw = f.read()
    try:
        return json.loads(raw.decode("utf-8"), object_pairs_hook=no_dup_pairs)
    except (UnicodeDecodeError, ValueError, ModelError) as e:
        raise ModelError("%s: %s" % (os.path.basename(path), e))


def generate(directory):
    files = []
    for f in os.listdir(directory):
        m = re.match(r"^model_([0-9]+)\.json$", f)
        if m:
            files.append((int(m.group(1)), f))
    if not files:
        raise ModelError("%s: no model_<id>.json files" % directory)
    syms, models = [], []
    for mid, fname in sorted(files):
        mdef = load(os.path.join(directory, fname))
        if not isinstance(mdef, dict) or set(mdef) - MODEL_KEYS:
            raise ModelError("%s: not a model definition" % fname)
        if mdef.get("id") != mid or not 1 <= mid <= 0xFFFE:
            raise ModelError("%s: id %r does not match the file name" % (fname,
                                                                          mdef.get("id")))
        m = Model(fname, mdef, syms)
        lval = mdef["group"]["points"][1].get("value")
        if lval is not None and lval != m.fixed_len():
            m.fail("/L", "value %r but the points add up to %d" % (lval, m.fixed_len()))
        models.append(m)
    return syms, models, len(files)


def emit(directory, syms, models, nfiles):
    out = []
    w = out.append
    w("/* Generated by protocols/sunspec/sunspec_gen.py from")
    w(" * %s (%d models). Do not edit: regenerate. */" % (directory, nfiles))
    w('#include "fg_sunspec.h"')
    w("")
    w("/* clang-format off */")
    w("")
    w("/* enum values, or bit numbers of bitfields */")
    w("static const struct fg_sunspec_symbol syms[] = {")
    for i, (name, v) in enumerate(syms or [("(none)", 0)]):
        w("    /* %d */ {%s, %du}," % (i, c_str(name), v))
    w("};")
    for m in models:
        w("")
        w("/* %d %s */" % (m.id, m.name))
        w("/* name, path, units, offset, size, type, flags, group, sf, symbols, "
          "nsymbols */")
        w("static const struct fg_sunspec_point m%d_points[] = {" % m.id)
        for i, p in enumerate(m.points):
            flags = [f for f, on in (("FG_SUNSPEC_RW", p["rw"]),
                                     ("FG_SUNSPEC_MANDATORY", p["mand"]),
                                     ("FG_SUNSPEC_STATIC", p["static"])) if on]
            sfi = "FG_SUNSPEC_NONE" if p["sfi"] is None else str(p["sfi"])
            w("    /* %d */ {%s, %s, %s, %d, %d, FG_SUNSPEC_%s, %s, %d, %s, %d, %d}," % (
                i, c_str(p["name"]), c_str(p["path"]), c_str(p["units"]), p["offset"],
                p["size"], TYPES[p["type"]][0], " | ".join(flags) or "0", p["group"], sfi,
                p["sym_first"] if p["nsym"] else 0, p["nsym"]))
        w("};")
        w("/* name, path, parent, depth, count kind, count, first point, points, len */")
        w("static const struct fg_sunspec_group m%d_groups[] = {" % m.id)
        for i, g in enumerate(m.groups):
            parent = "FG_SUNSPEC_NOGROUP" if g["parent"] is None else str(g["parent"])
            w("    /* %d */ {%s, %s, %s, %d, FG_SUNSPEC_COUNT_%s, %d, %d, %d, %d}," % (
                i, c_str(g["name"]), c_str(g["path"]), parent, g["depth"], g["kind"],
                g["cval"], g["first"], g["npoints"], g["len"]))
        w("};")
    w("")
    w("const struct fg_sunspec_model_def fg_sunspec_model_defs[] = {")
    for m in models:
        w("    {%d, %s, %s, %d, m%d_groups, %d, m%d_points, %d}," % (
            m.id, c_str(m.name), c_str(m.label), m.fixed_len(), m.id, len(m.groups), m.id,
            len(m.points)))
    w("};")
    w("")
    w("const size_t fg_sunspec_model_count = %d;" % len(models))
    w("const struct fg_sunspec_symbol *const fg_sunspec_symbols = syms;")
    w("")
    w("/* clang-format on */")
    return "\n".join(out) + "\n"


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("directory")
    ap.add_argument("-o", "--output", help="write here instead of stdout")
    args = ap.parse_args()
    try:
        syms, models, nfiles = generate(args.directory.rstrip("/"))
        # The path in the banner is relative to the repository so the output
        # does not depend on where the tree is checked out.
        text = emit("protocols/sunspec/models", syms, models, nfiles)
    except (ModelError, OSError) as e:
        sys.stderr.write("sunspec_gen: %s\n" % e)
        return 1
    if args.output:
        with open(args.output, "w", encoding="ascii", newline="\n") as f:
            f.write(text)
    else:
        sys.stdout.write(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
