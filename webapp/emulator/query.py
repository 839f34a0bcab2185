"""Binding a parsed SOQL query to the schema, planning it on the store's indexes, running it,
and rendering records the way the REST API does."""

from __future__ import annotations

import operator
from bisect import bisect_left, bisect_right
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta

from . import soql as q
from .schema import ID_TYPES, NAME_OBJECT, NUMBER_TYPES, STRING_TYPES, Field, SObject
from .soql import SoqlError, error_at
from .store import Store, Table, normalize_id

_OPS = {"=": operator.eq, "!=": operator.ne, "<": operator.lt, "<=": operator.le,
        ">": operator.gt, ">=": operator.ge}
_STAMP = "SystemModstamp"
_AFTER_IDS = "~"  # sorts after every id character, for exclusive bounds on (stamp, Id) keys


def format_datetime(value: datetime) -> str:
    """Salesforce's form: always milliseconds and +0000 (values are stored in UTC)."""
    return value.isoformat()[:19] + ".000+0000"


def format_value(f: Field, value):
    if value is None:
        return None
    if f.type == "datetime":
        return format_datetime(value)
    if f.type == "date":
        return value.isoformat()
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return value


def _whole_number(value):
    return int(value) if isinstance(value, float) and value.is_integer() else value


def _formatter(f: Field):
    """A function for values that JSON would not show Salesforce's way, else None."""
    if f.type == "datetime":
        return format_datetime
    if f.type == "date":
        return date.isoformat
    if f.type in NUMBER_TYPES:
        return _whole_number
    return None


@dataclass
class Node:
    """One object in the rendered record: its own fields and its parent relationships."""
    sobject: SObject
    items: list  # (key, field name, formatter) or (key, fk field name, parents by id, Node)
    renderers: dict = field(default_factory=dict)  # API version -> compiled render function


@dataclass
class Conjunct:
    predicate: object
    hint: tuple | None  # ("id", ids) | ("eq", field, keys) | ("range", op, datetime)


@dataclass
class BoundQuery:
    table: Table
    root: Node | None
    conjuncts: list[Conjunct]
    order: list  # (getter, descending, nulls_first, is_text)
    order_on_stamp: bool
    limit: int | None
    offset: int
    count_only: bool
    long_text: bool


class Binder:
    def __init__(self, text: str, store: Store):
        self.text = text
        self.store = store

    def bind(self, ast: q.Query) -> BoundQuery:
        table = self.store.table(ast.sobject)
        if table is None:
            raise error_at(self.text, ast.sobject_pos, f"sObject type '{ast.sobject}' is not "
                           "supported. If you are attempting to use a custom object, be sure to "
                           "append the '__c' after the entity name. Please reference your WSDL or "
                           "the describe call for the appropriate names.", "INVALID_TYPE")
        self.root_table = table
        root, long_text = None, False
        if not ast.count_only:
            root = Node(table.sobject, [])
            seen = set()
            for path in ast.fields:
                chain = self.resolve(path)
                key = ".".join(f.name.lower() for f in chain)
                if key in seen:
                    raise error_at(self.text, path.pos, f"duplicate field selected: {path.text}")
                seen.add(key)
                long_text = long_text or chain[-1].long_text
                self._add_to_projection(root, chain)
        conjuncts = []
        if ast.where is not None:
            top = ast.where.args if isinstance(ast.where, q.BoolOp) and ast.where.op == "AND" \
                else [ast.where]
            conjuncts = [Conjunct(self.predicate(node), self.hint(node)) for node in top]
        order = []
        for item in ast.order_by:
            chain = self.resolve(item.path)
            if not chain[-1].filterable:
                raise error_at(self.text, item.path.pos, f"field '{chain[-1].name}' can not be "
                               "sorted in a query call", "INVALID_FIELD")
            order.append((self.getter(chain), item.descending, item.effective_nulls_first,
                          chain[-1].type in STRING_TYPES))
        on_stamp = bool(ast.order_by) and len(ast.order_by[0].path.parts) == 1 and \
            ast.order_by[0].path.parts[0].lower() == "systemmodstamp"
        if ast.offset is not None and ast.offset > 2000:
            raise error_at(self.text, ast.offset_pos, "Maximum SOQL offset allowed is 2000",
                           "NUMBER_OUTSIDE_VALID_RANGE")
        return BoundQuery(table, root, conjuncts, order, on_stamp, ast.limit, ast.offset or 0,
                          ast.count_only, long_text)

    # ---- names -----------------------------------------------------------------------------

    def resolve(self, path: q.Path) -> list[Field]:
        """The reference fields walked through, then the field itself."""
        obj = self.root_table.sobject
        parts = list(path.parts)
        if len(parts) > 1 and parts[0].lower() == obj.name.lower() \
                and parts[0].lower() not in obj.relationships:
            parts = parts[1:]  # "Contact.Email" on Contact
        chain = []
        for part in parts[:-1]:
            ref = obj.relationships.get(part.lower())
            if ref is None:
                raise error_at(self.text, path.pos, f"Didn't understand relationship '{part}' in "
                               "field path. If you are attempting to use a custom relationship, be "
                               "sure to append the '__r' after the custom relationship name. Please "
                               "reference your WSDL or the describe call for the appropriate names.",
                               "INVALID_FIELD")
            chain.append(ref)
            obj = self.store.parent_sobject(ref)
        f = obj.field(parts[-1])
        if f is None:
            raise error_at(self.text, path.pos, f"No such column '{parts[-1]}' on entity "
                           f"'{obj.name}'. If you are attempting to use a custom field, be sure to "
                           "append the '__c' after the custom field name. Please reference your "
                           "WSDL or the describe call for the appropriate names.", "INVALID_FIELD")
        return chain + [f]

    def getter(self, chain: list[Field]):
        name = chain[-1].name
        get = lambda r: r.get(name)  # noqa: E731
        for ref in reversed(chain[:-1]):
            parents = self.store.parents(ref)
            get = (lambda inner, fk, parents: lambda r: (
                None if (p := parents.get(r.get(fk))) is None else inner(p)))(get, ref.name, parents)
        return get

    def _add_to_projection(self, node: Node, chain: list[Field]) -> None:
        for ref in chain[:-1]:
            key = ref.relationship_name
            child = next((item[3] for item in node.items if len(item) == 4 and item[0] == key),
                         None)
            if child is None:
                child = Node(self.store.parent_sobject(ref), [])
                node.items.append((key, ref.name, self.store.parents(ref), child))
            node = child
        f = chain[-1]
        node.items.append((f.name, f.name, _formatter(f)))

    # ---- conditions ------------------------------------------------------------------------

    def predicate(self, node):
        if isinstance(node, q.BoolOp):
            parts = [self.predicate(arg) for arg in node.args]
            if node.op == "NOT":
                inner = parts[0]
                return lambda r: not inner(r)
            if node.op == "AND":
                return lambda r: all(p(r) for p in parts)
            return lambda r: any(p(r) for p in parts)
        chain = self.resolve(node.path)
        f = chain[-1]
        if not f.filterable:
            raise error_at(self.text, node.path.pos, f"field '{f.name}' can not be filtered in a "
                           "query call", "INVALID_FIELD")
        get = self.getter(chain)
        if node.op == "LIKE":
            if f.type not in STRING_TYPES and f.type not in ID_TYPES:
                raise error_at(self.text, node.path.pos, f"invalid operator on field: {f.name}",
                               "INVALID_FIELD")
            if node.value.kind != "like":
                raise self.type_error(node.path, f)
            regex = q.like_regex(node.value.value)
            return lambda r: (v := get(r)) is not None and regex.fullmatch(v) is not None
        if node.op in ("IN", "NOTIN"):
            ranges = [self.value(node.path, f, lit) for lit in node.value]
            if any(isinstance(v, tuple) for v in ranges):
                tests = [self._compare(get, "=", v, f) for v in ranges]
                inside = lambda r: any(t(r) for t in tests)  # noqa: E731
            else:
                values = set(ranges)
                norm = self.normalizer(f)
                inside = lambda r: norm(get(r)) in values  # noqa: E731
            if node.op == "IN":
                return inside
            return lambda r: not inside(r)
        return self._compare(get, node.op, self.value(node.path, f, node.value), f)

    def _compare(self, get, op: str, value, f: Field):
        norm = self.normalizer(f)
        if isinstance(value, tuple):  # a date literal's [start, end)
            start, end = value
            tests = {"=": lambda v: start <= v < end, "!=": lambda v: not start <= v < end,
                     "<": lambda v: v < start, "<=": lambda v: v < end,
                     ">": lambda v: v >= end, ">=": lambda v: v >= start}
            test = tests[op]
            if op == "!=":
                return lambda r: (v := get(r)) is None or test(v)
            return lambda r: (v := get(r)) is not None and test(v)
        if value is None:
            if op == "=":
                return lambda r: get(r) is None
            if op == "!=":
                return lambda r: get(r) is not None
            return lambda r: False
        compare = _OPS[op]
        if op == "!=":  # SOQL's != also matches nulls
            return lambda r: (v := get(r)) is None or norm(v) != value
        return lambda r: (v := get(r)) is not None and compare(norm(v), value)

    @staticmethod
    def normalizer(f: Field):
        if f.type in STRING_TYPES:
            return lambda v: v.lower() if isinstance(v, str) else v
        return lambda v: v

    def type_error(self, path: q.Path, f: Field) -> SoqlError:
        kind = {"date": "date", "datetime": "dateTime", "boolean": "boolean", "int": "integer",
                "id": "id", "reference": "id"}.get(f.type, "double" if f.type in NUMBER_TYPES
                                                   else "string")
        quoting = "be enclosed in quotes" if f.type in STRING_TYPES | ID_TYPES \
            else "not be enclosed in quotes"
        return error_at(self.text, path.pos, f"value of filter criterion for field '{f.name}' "
                        f"must be of type {kind} and should {quoting}", "INVALID_FIELD")

    def value(self, path: q.Path, f: Field, lit: q.Literal):
        """The literal as a comparable value (or a (start, end) range for date literals)."""
        if lit.kind == "null":
            # A checkbox is never null: `= null` is `= false` in SOQL, `!= null` is `= true`.
            return False if f.type == "boolean" else None
        t = f.type
        if t in ID_TYPES:
            if lit.kind != "string":
                raise self.type_error(path, f)
            normalized = normalize_id(lit.value)
            if normalized is None:
                raise error_at(self.text, lit.pos, f"invalid ID field: {lit.value}",
                               "INVALID_QUERY_FILTER_OPERATOR")
            return normalized
        if t in STRING_TYPES:
            if lit.kind != "string":
                raise self.type_error(path, f)
            return lit.value.lower()
        if t == "boolean" and lit.kind == "boolean":
            return lit.value
        if t in NUMBER_TYPES and lit.kind == "number":
            return lit.value
        if t == "date" and lit.kind in ("date", "dateliteral"):
            if lit.kind == "date":
                return lit.value
            start, end = date_literal_range(*lit.value)
            return start.date(), end.date()
        if t == "datetime" and lit.kind in ("datetime", "dateliteral"):
            return lit.value if lit.kind == "datetime" else date_literal_range(*lit.value)
        raise self.type_error(path, f)

    def hint(self, node) -> tuple | None:
        """How an index can answer this top-level conjunct on its own, if it can."""
        if not isinstance(node, q.Compare) or len(node.path.parts) != 1:
            return None
        f = self.root_table.sobject.field(node.path.parts[0])
        values = node.value if node.op == "IN" else [node.value] if node.op == "=" else None
        if values is not None and all(v.kind == "string" for v in values):
            if f.name == "Id":
                return ("id", [normalize_id(v.value) for v in values])
            if f.name in self.root_table.indexes:
                return ("eq", f.name, [v.value.lower() if f.type in STRING_TYPES else
                                       normalize_id(v.value) for v in values])
        if f.name == _STAMP and node.op in ("<", "<=", ">", ">=") and node.value.kind == "datetime":
            return ("range", node.op, node.value.value)
        return None


def date_literal_range(name: str, n: int | None) -> tuple[datetime, datetime]:
    today = datetime.combine(datetime.now(UTC).date(), time(), UTC)
    day = timedelta(days=1)
    return {
        "TODAY": (today, today + day), "YESTERDAY": (today - day, today),
        "TOMORROW": (today + day, today + 2 * day),
        "LAST_N_DAYS": (today - (n or 0) * day, today + day),
        "NEXT_N_DAYS": (today + day, today + ((n or 0) + 1) * day),
    }[name]


def run(bound: BoundQuery, include_deleted: bool) -> list[dict]:
    """Matching records in result order (before OFFSET/LIMIT are applied by the caller)."""
    table = bound.table
    residual = []
    filter_deleted = not include_deleted and table.sobject.has_is_deleted
    id_hint = next((c for c in bound.conjuncts if c.hint and c.hint[0] == "id"), None)
    eq_hint = next((c for c in bound.conjuncts if c.hint and c.hint[0] == "eq"), None)
    ranges = [c for c in bound.conjuncts if c.hint and c.hint[0] == "range"]
    from_stamp_index = False
    if id_hint or eq_hint:
        used = id_hint or eq_hint
        if used is id_hint:
            found = [table.by_id[i] for i in dict.fromkeys(id_hint.hint[1]) if i in table.by_id]
        else:
            index = table.indexes[eq_hint.hint[1]]
            found = [r for key in dict.fromkeys(eq_hint.hint[2]) for r in index.get(key, [])]
        candidates = sorted({r["Id"]: r for r in found}.values(), key=lambda r: table.seq[r["Id"]])
        residual = [c.predicate for c in bound.conjuncts if c is not used]
    elif ranges or bound.order_on_stamp:
        index = table.by_stamp(include_deleted)
        lo, hi = 0, len(index.keys)
        for c in ranges:
            _, op, value = c.hint
            if op == ">=":
                lo = max(lo, bisect_left(index.keys, (value,)))
            elif op == ">":
                lo = max(lo, bisect_right(index.keys, (value, _AFTER_IDS)))
            elif op == "<":
                hi = min(hi, bisect_left(index.keys, (value,)))
            else:
                hi = min(hi, bisect_right(index.keys, (value, _AFTER_IDS)))
        candidates = index.recs[lo:hi] if lo < hi else []
        residual = [c.predicate for c in bound.conjuncts if c not in ranges]
        from_stamp_index = True
        filter_deleted = False  # the index of live rows holds no deleted ones
    else:
        candidates = table.records
        residual = [c.predicate for c in bound.conjuncts]
    if filter_deleted:
        candidates = [r for r in candidates if not r["IsDeleted"]]
    if residual:
        test = residual[0] if len(residual) == 1 else (lambda r: all(p(r) for p in residual))
        candidates = [r for r in candidates if test(r)]
    elif candidates is table.records:
        candidates = list(candidates)
    if from_stamp_index and not bound.order:
        return candidates
    if from_stamp_index and len(bound.order) == 1 and bound.order_on_stamp:
        if bound.order[0][1]:
            candidates = candidates[::-1]
        return candidates
    return sort_records(candidates, bound.order)


def sort_records(records: list[dict], order: list) -> list[dict]:
    records = list(records)
    for get, descending, nulls_first, is_text in reversed(order):
        null_rank = (0 if nulls_first else 2) if not descending else (2 if nulls_first else 0)

        def key(r, get=get, is_text=is_text, null_rank=null_rank):
            v = get(r)
            if v is None:
                return (null_rank,)
            return (1, v.lower() if is_text else v)
        records.sort(key=key, reverse=descending)
    return records


def renderer(node: Node, version: str):
    """A function rendering one record for this SELECT list. Built once per query and API
    version as a single dict display, since pages of 2,000 rows are the hot path."""
    cached = node.renderers.get(version)
    if cached is None:
        cached = node.renderers[version] = _compile_renderer(node, version)
    return cached


def _compile_renderer(node: Node, version: str):
    env, parts = {}, []
    if node.sobject is NAME_OBJECT:
        # A polymorphic parent says "Name" but links to the record's own type.
        base = f"/services/data/v{version}/sobjects/"
        parts.append(f"'attributes': {{'type': 'Name', 'url': {base!r} + r['Type'] + '/' + r['Id']}}")
    else:
        url = f"/services/data/v{version}/sobjects/{node.sobject.name}/"
        parts.append(f"'attributes': {{'type': {node.sobject.name!r}, 'url': {url!r} + r['Id']}}")
    for n, item in enumerate(node.items):
        if len(item) == 3:
            key, field_name, fmt = item
            if fmt is None:
                parts.append(f"{key!r}: g({field_name!r})")
            else:
                env[f"f{n}"] = fmt
                parts.append(f"{key!r}: None if (v := g({field_name!r})) is None else f{n}(v)")
        else:
            key, fk, parents, child = item
            env[f"t{n}"], env[f"c{n}"] = parents, renderer(child, version)
            parts.append(f"{key!r}: None if (p := t{n}.get(g({fk!r}))) is None else c{n}(p)")
    source = "def render(r):\n    g = r.get\n    return {" + ", ".join(parts) + "}\n"
    exec(compile(source, f"<render {node.sobject.name}>", "exec"), env)
    return env["render"]


def render_record(sobject: SObject, record: dict, version: str, fields: list[Field]) -> dict:
    """A record as GET /sobjects/<type>/<id> returns it."""
    out = {"attributes": {"type": sobject.name,
                          "url": f"/services/data/v{version}/sobjects/{sobject.name}/{record['Id']}"}}
    for f in fields:
        out[f.name] = format_value(f, record.get(f.name))
    return out


def compile_query(text: str, store: Store) -> BoundQuery:
    return Binder(text, store).bind(q.parse(text))

