#!/usr/bin/python3
"""Generate the OCPP payload validator tables from the official JSON schemas.

    protocols/ocpp/schema_gen.py --version 2.0.1 protocols/ocpp/schemas/2.0.1 \
        > protocols/ocpp/gen/ocpp201_schema.c

Reads every *.json in the directory (one per <Action>Request/<Action>Response;
a file without that suffix is a request without response, e.g. 2.1's
NotifyPeriodicEventStream) and prints one C file of flat const tables in the
layout of protocols/ocpp/fg_ocpp_schema.h (FG_OCPP_SCHEMA_INTERNAL).

Only the JSON Schema subset the OCPP schemas use is supported; anything else
(an unknown keyword, a keyword on a type it does not apply to, a $ref that
is not #/definitions/X, a recursive $ref, ...) stops the generator with an
error naming the file and the place, so a new schema release cannot be
half-understood silently. Output is deterministic (files, properties and
definitions in sorted order, sub-schemas numbered in post-order and shared
when identical) and already clang-formatted. Standard library only.
"""
import argparse
import json
import os
import sys

VERSIONS = {"2.0.1": "v201", "2.1": "v21"}
TYPES = {
    "object": "FG_OCPP_ST_OBJECT",
    "array": "FG_OCPP_ST_ARRAY",
    "string": "FG_OCPP_ST_STRING",
    "integer": "FG_OCPP_ST_INTEGER",
    "number": "FG_OCPP_ST_NUMBER",
    "boolean": "FG_OCPP_ST_BOOLEAN",
    "any": "FG_OCPP_ST_ANY",
}
SF_OPEN, SF_HAS_MIN, SF_HAS_MAX, SF_ENUM, SF_DATETIME = 1, 2, 4, 8, 16
NONE = 0xFFFF
MAX_DEPTH = 32  # FG_OCPP_SCHEMA_MAX_DEPTH
U16 = 0xFFFE
U32 = 0xFFFFFFFF

# Keywords without effect on validation.
IGNORED = {"description", "javaType", "comment", "$id", "$schema", "default"}
# Keywords each type may carry (besides IGNORED and "type").
ALLOWED = {
    "object": {"properties", "required", "additionalProperties"},
    "array": {"items", "minItems", "maxItems", "additionalItems"},
    "string": {"maxLength", "enum", "format", "additionalProperties"},
    "integer": {"minimum", "maximum"},
    "number": {"minimum", "maximum"},
    "boolean": set(),
    "any": set(),
}


class SchemaError(Exception):
    pass


def no_dup_pairs(pairs):
    d = {}
    for k, v in pairs:
        if k in d:
            raise SchemaError("duplicate key %r" % k)
        d[k] = v
    return d


def is_count(v):
    return isinstance(v, int) and not isinstance(v, bool) and 0 <= v <= U32


def is_num(v):
    return isinstance(v, (int, float)) and not isinstance(v, bool)


class Gen:
    def __init__(self):
        self.nodes = []  # tuples (type, flags, a, b, c, lo, hi)
        self.node_ix = {}
        self.node_note = []
        self.depth = []
        self.props = []  # (name, node, reqpos)
        self.props_ix = {}
        self.reqmasks = []
        self.req_ix = {}
        self.enums = []  # (first, count)
        self.enum_ix = {}
        self.enum_strs = []
        self.bounds = []
        self.bounds_ix = {}

    def intern(self, table, index, key, value=None):
        if key not in index:
            index[key] = len(table)
            table.append(key if value is None else value)
        return index[key]

    def add_node(self, t, note, depth):
        if t not in self.node_ix:
            self.node_ix[t] = len(self.nodes)
            self.nodes.append(t)
            self.node_note.append(note)
            self.depth.append(depth)
        return self.node_ix[t]

    def add_props(self, plist):
        key = tuple(plist)
        if key not in self.props_ix:
            self.props_ix[key] = len(self.props)
            self.props.extend(plist)
        return self.props_ix[key]

    def add_enum(self, values):
        key = tuple(values)
        if key not in self.enum_ix:
            self.enum_ix[key] = len(self.enums)
            self.enums.append((len(self.enum_strs), len(values)))
            self.enum_strs.extend(values)
        return self.enum_ix[key]


class FileCtx:
    def __init__(self, gen, fname, schema):
        self.gen = gen
        self.fname = fname
        self.defs = schema.get("definitions", {})
        self.def_node = {}
        self.active = []

    def fail(self, where, msg):
        raise SchemaError("%s: %s: %s" % (self.fname, where or "/", msg))

    def ref(self, node, where):
        ref = node["$ref"]
        extra = set(node) - {"$ref", "description"}
        if extra:
            self.fail(where, "$ref with sibling keywords %s" % sorted(extra))
        prefix = "#/definitions/"
        name = ref[len(prefix):] if isinstance(ref, str) else None
        if not isinstance(ref, str) or not ref.startswith(prefix) or name not in self.defs:
            self.fail(where, "unsupported $ref %r" % (ref,))
        if name in self.active:
            self.fail(where, "recursive $ref %s" % " -> ".join(self.active + [name]))
        if name not in self.def_node:
            self.active.append(name)
            self.def_node[name] = self.build(self.defs[name], "#/definitions/" + name, name)
            self.active.pop()
        return self.def_node[name]

    def build(self, node, where, note):
        """Return the node index of a sub-schema (children first)."""
        g = self.gen
        if not isinstance(node, dict):
            self.fail(where, "schema is not an object")
        if "$ref" in node:
            return self.ref(node, where)
        t = node.get("type")
        if t is None and set(node) <= IGNORED:
            t = "any"  # {} or only a description: any JSON value (DataTransfer data)
        if not isinstance(t, str) or t not in TYPES:
            self.fail(where, "unsupported or missing type %r" % (t,))
        for k in node:
            if k not in IGNORED and k != "type" and k not in ALLOWED[t]:
                if where == "" and k == "definitions":
                    continue
                self.fail(where, "keyword %r not handled for type %s" % (k, t))
        flags, a, b, c, lo, hi, depth = 0, 0, 0, 0, 0, 0, 1
        if t == "object":
            ap = node.get("additionalProperties", True)
            if ap is True:
                flags |= SF_OPEN
            elif ap is not False:
                self.fail(where, "additionalProperties must be true or false")
            props = node.get("properties", {})
            req = node.get("required", [])
            if not isinstance(props, dict) or not isinstance(req, list):
                self.fail(where, "bad properties/required")
            if len(set(req)) != len(req) or any(r not in props for r in req):
                self.fail(where, "required %r names unknown or repeated properties" % req)
            if len(props) > 64:
                self.fail(where, "more than 64 properties")
            plist, mask = [], 0
            for i, name in enumerate(sorted(props, key=lambda s: s.encode())):
                if not name.isascii() or '"' in name or "\\" in name:
                    self.fail(where, "property name %r not plain ASCII" % name)
                child = self.build(props[name], where + "/properties/" + name, name)
                depth = max(depth, 1 + g.depth[child])
                reqpos = req.index(name) + 1 if name in req else 0
                if reqpos:
                    mask |= 1 << i
                plist.append((name, child, reqpos))
            a = g.add_props(plist) if plist else 0
            b = len(plist)
            c = g.intern(g.reqmasks, g.req_ix, mask)
        elif t == "array":
            items = node.get("items")
            if not isinstance(items, dict):
                self.fail(where, "items must be one schema")
            # additionalItems only applies to a tuple-form "items" (draft-06).
            if node.get("additionalItems", False) is not False:
                self.fail(where, "additionalItems other than false")
            a = self.build(items, where + "/items", note)
            depth = 1 + g.depth[a]
            if "minItems" in node:
                flags |= SF_HAS_MIN
                lo = node["minItems"]
            if "maxItems" in node:
                flags |= SF_HAS_MAX
                hi = node["maxItems"]
            if not is_count(lo) or not is_count(hi):
                self.fail(where, "bad minItems/maxItems")
        elif t == "string":
            # additionalProperties has no effect on strings (the enum types carry it).
            if node.get("additionalProperties", False) is not False:
                self.fail(where, "additionalProperties on a string")
            if "maxLength" in node:
                flags |= SF_HAS_MAX
                hi = node["maxLength"]
                if not is_count(hi):
                    self.fail(where, "bad maxLength")
            if "enum" in node:
                vals = node["enum"]
                if not isinstance(vals, list) or not vals or len(set(vals)) != len(vals):
                    self.fail(where, "bad enum")
                for v in vals:
                    if not isinstance(v, str) or not v.isascii() or '"' in v or "\\" in v:
                        self.fail(where, "enum value %r not a plain ASCII string" % (v,))
                flags |= SF_ENUM
                a = g.add_enum(vals)
            if "format" in node:
                if node["format"] != "date-time":
                    self.fail(where, "unsupported format %r" % node["format"])
                flags |= SF_DATETIME
        elif t in ("integer", "number"):
            mn, mx = node.get("minimum"), node.get("maximum")
            for v in (mn, mx):
                if v is not None and not is_num(v):
                    self.fail(where, "bad minimum/maximum")
            if mn is not None:
                flags |= SF_HAS_MIN
            if mx is not None:
                flags |= SF_HAS_MAX
            if mn is not None or mx is not None:
                pair = (float(mn or 0), float(mx or 0))
                a = g.intern(g.bounds, g.bounds_ix, pair)
        for v in (a, b, c):
            if v > U16:
                self.fail(where, "table too large for 16-bit indices")
        if depth > MAX_DEPTH:
            self.fail(where, "schema deeper than %d" % MAX_DEPTH)
        return g.add_node((TYPES[t], flags, a, b, c, lo, hi), note, depth)


def load(path):
    with open(path, "rb") as f:
        raw = f.read()
    try:
        return json.loads(raw.decode("utf-8-sig"), object_pairs_hook=no_dup_pairs)
    except (UnicodeDecodeError, ValueError) as e:
        raise SchemaError("%s: %s" % (os.path.basename(path), e))


def generate(version, directory):
    g = Gen()
    files = sorted(f for f in os.listdir(directory) if f.endswith(".json"))
    if not files:
        raise SchemaError("%s: no *.json files" % directory)
    actions = {}  # name -> [request msg, response msg]
    msgs = []  # (name, root)
    for fname in files:
        base = fname[: -len(".json")]
        if base.endswith("Request"):
            action, side = base[: -len("Request")], 0
        elif base.endswith("Response"):
            action, side = base[: -len("Response")], 1
        else:
            action, side = base, 0  # SEND message: request only
        if not action.isidentifier() or not action.isascii():
            raise SchemaError("%s: unexpected file name" % fname)
        schema = load(os.path.join(directory, fname))
        if not isinstance(schema, dict):
            raise SchemaError("%s: not an object" % fname)
        if schema.get("$schema") != "http://json-schema.org/draft-06/schema#":
            raise SchemaError("%s: not a draft-06 schema" % fname)
        ctx = FileCtx(g, fname, schema)
        if schema.get("type") != "object":
            ctx.fail("", "message schema is not an object")
        for name in sorted(ctx.defs):  # every definition, even if unused
            ctx.ref({"$ref": "#/definitions/" + name}, "#/definitions/" + name)
        root = ctx.build(schema, "", base)
        slot = actions.setdefault(action, [NONE, NONE])
        if slot[side] != NONE:
            raise SchemaError("%s: second schema for %s" % (fname, action))
        slot[side] = len(msgs)
        msgs.append((base, root))
    return g, actions, msgs, len(files)


def c_str(s):
    return '"' + s + '"'


def emit(version, directory, g, actions, msgs, nfiles):
    sym = "fg_ocpp_schema_" + VERSIONS[version]
    out = []
    w = out.append
    w("/* Generated by protocols/ocpp/schema_gen.py --version %s from" % version)
    w(" * %s (%d files). Do not edit: regenerate. */" % (directory, nfiles))
    w("#define FG_OCPP_SCHEMA_INTERNAL")
    w('#include "fg_ocpp_schema.h"')
    w("")
    w("static const char *const enum_strs[] = {")
    for s in g.enum_strs or ["(none)"]:
        w("    %s," % c_str(s))
    w("};")
    w("")
    w("static const struct fg_ocpp_senum enums[] = {")
    for i, (first, count) in enumerate(g.enums or [(0, 0)]):
        w("    /* %d */ {%d, %d}," % (i, first, count))
    w("};")
    w("")
    w("static const double bounds[][2] = {")
    for i, (mn, mx) in enumerate(g.bounds or [(0.0, 0.0)]):
        w("    /* %d */ {%r, %r}," % (i, mn, mx))
    w("};")
    w("")
    w("static const uint64_t reqmasks[] = {")
    for i, m in enumerate(g.reqmasks):
        w("    /* %d */ 0x%xull," % (i, m))
    w("};")
    w("")
    w("static const struct fg_ocpp_sprop props[] = {")
    for i, (name, node, reqpos) in enumerate(g.props):
        w("    /* %d */ {%s, %d, %d}," % (i, c_str(name), node, reqpos))
    w("};")
    w("")
    w("/* index and first name; type, flags, a, b, c, lo, hi */")
    w("static const struct fg_ocpp_snode nodes[] = {")
    for i, (t, flags, a, b, c, lo, hi) in enumerate(g.nodes):
        body = "{%s, %d, %d, %d, %d, %d, %d}," % (t, flags, a, b, c, lo, hi)
        note = ("%d %s" % (i, g.node_note[i]))[: 90 - len(body) - 11]
        w("    /* %s */ %s" % (note, body))
    w("};")
    w("")
    w("static const struct fg_ocpp_msg_schema msgs[] = {")
    for name, root in msgs:
        w("    {&%s, %s, %d}," % (sym, c_str(name), root))
    w("};")
    w("")
    w("static const struct fg_ocpp_saction actions[] = {")
    for name in sorted(actions, key=lambda s: s.encode()):
        req, resp = actions[name]
        w("    {%s, {%s, %s}}," % (c_str(name), fmt_msg(req), fmt_msg(resp)))
    w("};")
    w("")
    w("const struct fg_ocpp_schema_tables %s = {" % sym)
    for field in ("nodes", "props", "reqmasks", "enums", "enum_strs", "bounds", "msgs",
                  "actions"):
        w("    .%s = %s," % (field, field))
    w("    .nactions = sizeof(actions) / sizeof(actions[0]),")
    w("    .max_depth = %d," % max(g.depth[root] for _, root in msgs))
    w("};")
    for line in out:
        if len(line) > 90:
            raise SchemaError("generated line longer than 90 columns: " + line)
    return "\n".join(out) + "\n"


def fmt_msg(i):
    return "FG_OCPP_SCHEMA_NONE" if i == NONE else str(i)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--version", required=True, choices=sorted(VERSIONS))
    ap.add_argument("directory")
    ap.add_argument("-o", "--output", help="write here instead of stdout")
    args = ap.parse_args()
    directory = args.directory.rstrip("/")
    try:
        g, actions, msgs, nfiles = generate(args.version, directory)
        # The path in the banner is relative to the repository so the output
        # does not depend on where the tree is checked out.
        text = emit(args.version, "protocols/ocpp/schemas/" + args.version, g, actions,
                    msgs, nfiles)
    except (SchemaError, OSError) as e:
        sys.stderr.write("ocpp_schema_gen: %s\n" % e)
        return 1
    if args.output:
        with open(args.output, "w", encoding="ascii", newline="\n") as f:
            f.write(text)
    else:
        sys.stdout.write(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
