"""SOQL: a tokenizer and a recursive-descent parser producing a small syntax tree.

The tree is unbound: names are checked against the schema by `query.bind`. Errors raise
`SoqlError` carrying Salesforce's errorCode and its message layout (the query excerpt, a caret
under the column, "ERROR at Row:r:Column:c" and the reason).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import UTC, date, datetime

KEYWORDS = {"SELECT", "FROM", "WHERE", "AND", "OR", "NOT", "IN", "LIKE", "ORDER", "BY", "ASC",
            "DESC", "NULLS", "FIRST", "LAST", "LIMIT", "OFFSET", "NULL", "TRUE", "FALSE",
            "GROUP", "HAVING", "INCLUDES", "EXCLUDES", "WITH", "FOR", "USING"}
DATE_LITERALS = {"TODAY", "YESTERDAY", "TOMORROW", "LAST_N_DAYS", "NEXT_N_DAYS"}
COMPARISONS = {"=", "!=", "<>", "<", "<=", ">", ">="}

_TOKEN_RE = re.compile(r"""
    (?P<ws>\s+)
  | (?P<datetime>\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(?:\.\d{1,3})?(?:Z|[+-]\d{2}:?\d{2}))
  | (?P<date>\d{4}-\d{2}-\d{2}(?![\dT]))
  | (?P<number>-?\d+(?:\.\d+)?(?![\w.]))
  | (?P<ident>[A-Za-z_][A-Za-z0-9_]*)
  | (?P<string>')
  | (?P<op><=|>=|!=|<>|=|<|>)
  | (?P<punct>[(),.:])
""", re.VERBOSE)
_ESCAPES = {"n": "\n", "r": "\r", "t": "\t", "b": "\b", "f": "\f", '"': '"', "'": "'", "\\": "\\"}


class SoqlError(Exception):
    def __init__(self, error_code: str, message: str):
        super().__init__(message)
        self.error_code = error_code
        self.message = message


def error_at(soql: str, pos: int, reason: str, code: str = "MALFORMED_QUERY") -> SoqlError:
    """Salesforce's layout: the line with the error, a caret, its row and column, the reason."""
    row = soql.count("\n", 0, pos) + 1
    line_start = soql.rfind("\n", 0, pos) + 1
    line_end = soql.find("\n", pos)
    line = soql[line_start: None if line_end < 0 else line_end]
    col = pos - line_start
    start = max(0, col - 80)  # long queries show a window around the column
    excerpt = line[start: start + 160]
    caret = " " * (col - start) + "^"
    return SoqlError(code, f"\n{excerpt}\n{caret}\nERROR at Row:{row}:Column:{col + 1}\n{reason}")


@dataclass
class Token:
    kind: str  # ident, string, number, date, datetime, op, punct, eof
    text: str
    pos: int
    value: object = None

    @property
    def upper(self) -> str:
        return self.text.upper() if self.kind == "ident" else ""


def tokenize(soql: str) -> list[Token]:
    tokens, pos = [], 0
    while pos < len(soql):
        m = _TOKEN_RE.match(soql, pos)
        if not m:
            raise error_at(soql, pos, f"unexpected token: '{soql[pos]}'")
        kind = m.lastgroup
        if kind == "string":
            end = _string_end(soql, pos)
            tokens.append(Token("string", soql[pos:end], pos, soql[pos + 1:end - 1]))
            pos = end
            continue
        if kind != "ws":
            tokens.append(Token(kind, m.group(), pos))
        pos = m.end()
    tokens.append(Token("eof", "<EOF>", len(soql)))
    return tokens


def _string_end(soql: str, pos: int) -> int:
    i = pos + 1
    while i < len(soql):
        if soql[i] == "\\":
            i += 2
        elif soql[i] == "'":
            return i + 1
        else:
            i += 1
    raise error_at(soql, pos, f"line 1:{pos} mismatched character '<EOF>' expecting '''")


def decode_string(soql: str, token: Token, like: bool = False) -> str:
    """The value of a quoted literal. Inside LIKE, `\\%` and `\\_` stay escaped for the matcher."""
    raw, out, i = token.value, [], 0
    while i < len(raw):
        ch = raw[i]
        if ch != "\\":
            out.append(ch)
            i += 1
            continue
        nxt = raw[i + 1: i + 2]
        if nxt.lower() in _ESCAPES and nxt not in ('"', "'", "\\"):
            out.append(_ESCAPES[nxt.lower()])
        elif nxt in _ESCAPES:
            out.append("\\\\" if like and nxt == "\\" else _ESCAPES[nxt])
        elif nxt == "u" and re.fullmatch(r"[0-9a-fA-F]{4}", raw[i + 2: i + 6]):
            out.append(chr(int(raw[i + 2: i + 6], 16)))
            i += 6
            continue
        elif like and nxt in ("%", "_"):
            out.append("\\" + nxt)
        else:
            raise error_at(soql, token.pos, f"Invalid string literal '{raw}'. Illegal character "
                           f"sequence '\\{nxt}' in string literal.")
        i += 2
    return "".join(out)


def like_regex(pattern: str) -> re.Pattern:
    """A decoded LIKE pattern (see decode_string) as a case-insensitive regex."""
    parts, i = [], 0
    while i < len(pattern):
        ch = pattern[i]
        if ch == "\\" and i + 1 < len(pattern):
            parts.append(re.escape(pattern[i + 1]))
            i += 2
            continue
        parts.append(".*" if ch == "%" else "." if ch == "_" else re.escape(ch))
        i += 1
    return re.compile("".join(parts), re.IGNORECASE | re.DOTALL)


# ---- syntax tree -------------------------------------------------------------------------

@dataclass
class Path:
    parts: list[str]
    pos: int

    @property
    def text(self) -> str:
        return ".".join(self.parts)


@dataclass
class Literal:
    kind: str  # string, like, number, boolean, null, date, datetime, dateliteral
    value: object
    pos: int


@dataclass
class Compare:
    path: Path
    op: str  # = != < <= > >= LIKE IN NOTIN
    value: Literal | list[Literal]


@dataclass
class BoolOp:
    op: str  # AND, OR, NOT
    args: list


@dataclass
class OrderItem:
    path: Path
    descending: bool = False
    nulls_first: bool | None = None

    @property
    def effective_nulls_first(self) -> bool:
        # SOQL default: ascending puts nulls first, descending puts them last.
        return (not self.descending) if self.nulls_first is None else self.nulls_first


@dataclass
class Query:
    fields: list[Path]
    sobject: str
    sobject_pos: int
    count_only: bool = False
    where: object = None
    order_by: list[OrderItem] = field(default_factory=list)
    limit: int | None = None
    offset: int | None = None
    offset_pos: int = 0


# ---- parser ------------------------------------------------------------------------------

class Parser:
    def __init__(self, soql: str):
        self.soql = soql
        self.tokens = tokenize(soql)
        self.i = 0

    @property
    def tok(self) -> Token:
        return self.tokens[self.i]

    def fail(self, token: Token | None = None) -> SoqlError:
        token = token or self.tok
        return error_at(self.soql, token.pos, f"unexpected token: '{token.text}'")

    def next(self) -> Token:
        token = self.tokens[self.i]
        self.i += 1
        return token

    def accept(self, *words: str) -> bool:
        if self.tok.upper in words or (self.tok.kind in ("punct", "op") and self.tok.text in words):
            self.i += 1
            return True
        return False

    def expect(self, word: str) -> Token:
        if not self.accept(word):
            raise self.fail()
        return self.tokens[self.i - 1]

    def parse(self) -> Query:
        self.expect("SELECT")
        count_only, fields = False, []
        if self.tok.upper == "COUNT" and self.tokens[self.i + 1].text == "(":
            self.i += 2
            self.expect(")")
            count_only = True
        else:
            fields.append(self.path())
            while self.accept(","):
                fields.append(self.path())
        self.expect("FROM")
        sobject = self.next()
        if sobject.kind != "ident" or sobject.upper in KEYWORDS:
            raise self.fail(sobject)
        query = Query(fields, sobject.text, sobject.pos, count_only)
        if self.accept("WHERE"):
            query.where = self.condition()
        if self.accept("ORDER"):
            self.expect("BY")
            query.order_by.append(self.order_item())
            while self.accept(","):
                query.order_by.append(self.order_item())
        if self.accept("LIMIT"):
            query.limit = self.integer()
        if self.tok.upper == "OFFSET":
            query.offset_pos = self.next().pos
            query.offset = self.integer()
        if self.tok.kind != "eof":
            raise self.fail()
        return query

    def integer(self) -> int:
        token = self.next()
        if token.kind != "number" or not token.text.isdigit():
            raise self.fail(token)
        return int(token.text)

    def path(self) -> Path:
        token = self.next()
        if token.kind != "ident" or token.upper in KEYWORDS:
            raise self.fail(token)
        parts = [token.text]
        while self.tok.text == "." and self.tok.kind == "punct":
            self.i += 1
            part = self.next()
            if part.kind != "ident":
                raise self.fail(part)
            parts.append(part.text)
        return Path(parts, token.pos)

    def order_item(self) -> OrderItem:
        item = OrderItem(self.path())
        if self.accept("DESC"):
            item.descending = True
        else:
            self.accept("ASC")
        if self.accept("NULLS"):
            if self.accept("FIRST"):
                item.nulls_first = True
            else:
                self.expect("LAST")
                item.nulls_first = False
        return item

    # condition := unary ((AND unary)* | (OR unary)*): SOQL refuses AND and OR side by side
    # without parentheses ("unexpected token"), unlike SQL with its precedence.
    def condition(self):
        args = [self.unary()]
        op = None
        while self.tok.upper in ("AND", "OR") and self.tok.kind == "ident":
            token = self.next()
            if op is not None and token.upper != op:
                raise error_at(self.soql, token.pos, f"unexpected token: '{token.text}'")
            op = token.upper
            args.append(self.unary())
        return args[0] if len(args) == 1 else BoolOp(op, args)

    def unary(self):
        if self.accept("NOT"):
            return BoolOp("NOT", [self.unary()])
        if self.accept("("):
            inner = self.condition()
            self.expect(")")
            return inner
        return self.comparison()

    def comparison(self) -> Compare:
        path = self.path()
        token = self.next()
        if token.kind == "op":
            return Compare(path, "!=" if token.text == "<>" else token.text, self.literal())
        if token.upper == "LIKE":
            return Compare(path, "LIKE", self.literal(like=True))
        negate = token.upper == "NOT"
        if negate:
            token = self.next()
        if token.upper != "IN":
            raise self.fail(token)
        self.expect("(")
        values = [self.literal()]
        while self.accept(","):
            values.append(self.literal())
        self.expect(")")
        return Compare(path, "NOTIN" if negate else "IN", values)

    def literal(self, like: bool = False) -> Literal:
        token = self.next()
        kind, pos = token.kind, token.pos
        if kind == "string":
            text = decode_string(self.soql, token, like)
            return Literal("like" if like else "string", text, pos)
        if kind == "number":
            number = float(token.text) if "." in token.text else int(token.text)
            return Literal("number", number, pos)
        if kind == "date":
            return Literal("date", self._parse_date(token), pos)
        if kind == "datetime":
            return Literal("datetime", self._parse_datetime(token), pos)
        if token.upper in ("TRUE", "FALSE"):
            return Literal("boolean", token.upper == "TRUE", pos)
        if token.upper == "NULL":
            return Literal("null", None, pos)
        if token.upper in DATE_LITERALS:
            n = None
            if token.upper.endswith("_N_DAYS"):
                self.expect(":")
                n = self.integer()
            return Literal("dateliteral", (token.upper, n), pos)
        raise self.fail(token)

    def _parse_date(self, token: Token) -> date:
        try:
            return date.fromisoformat(token.text)
        except ValueError:
            raise error_at(self.soql, token.pos, f"value of date: {token.text} is not valid")

    def _parse_datetime(self, token: Token) -> datetime:
        text = token.text.replace("Z", "+00:00")
        if re.search(r"[+-]\d{4}$", text):
            # SOQL's dateTime literals take +hh:mm or -hh:mm; +0500 is refused.
            raise error_at(self.soql, token.pos, f"line 1:{token.pos} no viable alternative "
                           f"at character '{token.text[-5]}'")
        try:
            return datetime.fromisoformat(text).astimezone(UTC)
        except ValueError:
            raise error_at(self.soql, token.pos, f"line 1:{token.pos} no viable alternative "
                           f"at character '{token.text}'")


def parse(soql: str) -> Query:
    return Parser(soql).parse()
