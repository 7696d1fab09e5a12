"""A parser for standard CEL, used for static checks only.

The evaluating binding reports syntax errors but exposes no syntax tree, so
unknown fields, type errors and cost could not be found before a record is
written. This parser builds the tree those checks walk. It follows the CEL
grammar (https://github.com/google/cel-spec/blob/master/doc/langdef.md);
constructs we do not allow in tenant expressions (message literals, optional
selection ``.?`` / ``[?``) are reported as errors.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

__all__ = [
    "Binary",
    "Call",
    "Cond",
    "Ident",
    "Index",
    "ListLit",
    "Lit",
    "MapLit",
    "Node",
    "ParseError",
    "Select",
    "Unary",
    "parse",
]


class ParseError(Exception):
    """A syntax error at ``pos`` (0-based offset into the source)."""

    def __init__(self, message: str, pos: int) -> None:
        super().__init__(message)
        self.message = message
        self.pos = pos


@dataclass(frozen=True, slots=True)
class Lit:
    pos: int
    kind: str  # int, uint, double, string, bytes, bool, null
    value: object


@dataclass(frozen=True, slots=True)
class Ident:
    pos: int
    name: str


@dataclass(frozen=True, slots=True)
class Select:
    pos: int
    operand: Node
    field: str


@dataclass(frozen=True, slots=True)
class Index:
    pos: int
    operand: Node
    index: Node


@dataclass(frozen=True, slots=True)
class Call:
    pos: int
    target: Node | None
    name: str
    args: tuple[Node, ...]


@dataclass(frozen=True, slots=True)
class ListLit:
    pos: int
    items: tuple[Node, ...]


@dataclass(frozen=True, slots=True)
class MapLit:
    pos: int
    entries: tuple[tuple[Node, Node], ...]


@dataclass(frozen=True, slots=True)
class Unary:
    pos: int
    op: str
    operand: Node


@dataclass(frozen=True, slots=True)
class Binary:
    pos: int
    op: str
    left: Node
    right: Node


@dataclass(frozen=True, slots=True)
class Cond:
    pos: int
    cond: Node
    then: Node
    other: Node


Node = Lit | Ident | Select | Index | Call | ListLit | MapLit | Unary | Binary | Cond

_RESERVED = frozenset(
    "as break const continue else for function if import let loop package namespace "
    "return var void while".split()
)

_TOKEN = re.compile(
    r"""
    (?P<ws>\s+|//[^\n]*)
  | (?P<str>(?:[rR][bB]?|[bB][rR]?)?(?:'''(?:\\.|[^\\])*?'''|\"\"\"(?:\\.|[^\\])*?\"\"\"
        |'(?:\\.|[^'\\\n])*'|"(?:\\.|[^"\\\n])*"))
  | (?P<num>0[xX][0-9a-fA-F]+[uU]?|\d*\.\d+(?:[eE][+-]?\d+)?|\d+[eE][+-]?\d+|\d+[uU]?)
  | (?P<ident>[A-Za-z_][A-Za-z0-9_]*)
  | (?P<op>==|!=|<=|>=|&&|\|\||\.\?|\[\?|[-+*/%<>!?:.,()\[\]{}])
    """,
    re.VERBOSE | re.DOTALL,
)


@dataclass(frozen=True, slots=True)
class _Tok:
    kind: str  # str, num, ident, op, end
    text: str
    pos: int


def _tokens(source: str) -> list[_Tok]:
    out: list[_Tok] = []
    pos = 0
    while pos < len(source):
        m = _TOKEN.match(source, pos)
        if m is None:
            raise ParseError(f"unexpected character {source[pos]!r}", pos)
        kind = m.lastgroup or "ws"
        if kind != "ws":
            out.append(_Tok(kind, m.group(), pos))
        pos = m.end()
    out.append(_Tok("end", "", len(source)))
    return out


def _string_literal(text: str, pos: int) -> Lit:
    prefix = re.match(r"[rRbB]*", text)
    flags = prefix.group().lower() if prefix else ""
    body = text[len(flags) :]
    quote = body[:3] if body[:3] in ("'''", '"""') else body[0]
    content = body[len(quote) : -len(quote)]
    # Only escape-free content is decoded: a literal map key or index is all
    # the checks need, and an escaped one is treated as unknown.
    value: object = content if ("r" in flags or "\\" not in content) else None
    return Lit(pos, "bytes" if "b" in flags else "string", value)


def _number_literal(text: str, pos: int) -> Lit:
    if text[:2].lower() == "0x":
        if text[-1] in "uU":
            return Lit(pos, "uint", int(text[:-1], 16))
        return Lit(pos, "int", int(text, 16))
    if text[-1] in "uU":
        return Lit(pos, "uint", int(text[:-1]))
    if any(c in text for c in ".eE"):
        return Lit(pos, "double", float(text))
    return Lit(pos, "int", int(text))


class _Parser:
    def __init__(self, source: str) -> None:
        self.toks = _tokens(source)
        self.i = 0

    @property
    def tok(self) -> _Tok:
        return self.toks[self.i]

    def take(self) -> _Tok:
        tok = self.toks[self.i]
        self.i += 1
        return tok

    def at(self, text: str) -> bool:
        tok = self.tok
        return tok.kind in ("op", "ident") and tok.text == text

    def expect(self, text: str) -> _Tok:
        if not self.at(text):
            found = self.tok.text or "end of expression"
            raise ParseError(f"expected '{text}' but found '{found}'", self.tok.pos)
        return self.take()

    def parse(self) -> Node:
        node = self.expr()
        if self.tok.kind != "end":
            raise ParseError(f"unexpected '{self.tok.text}'", self.tok.pos)
        return node

    def expr(self) -> Node:
        cond = self.binary(0)
        if self.at("?"):
            pos = self.take().pos
            then = self.binary(0)
            self.expect(":")
            return Cond(pos, cond, then, self.expr())
        return cond

    _LEVELS: tuple[tuple[str, ...], ...] = (
        ("||",),
        ("&&",),
        ("<", "<=", ">", ">=", "==", "!=", "in"),
        ("+", "-"),
        ("*", "/", "%"),
    )

    def binary(self, level: int) -> Node:
        if level == len(self._LEVELS):
            return self.unary()
        node = self.binary(level + 1)
        ops = self._LEVELS[level]
        while self.tok.kind in ("op", "ident") and self.tok.text in ops:
            tok = self.take()
            node = Binary(tok.pos, tok.text, node, self.binary(level + 1))
        return node

    def unary(self) -> Node:
        if self.at("!") or self.at("-"):
            tok = self.take()
            operand = self.unary()
            if tok.text == "-" and isinstance(operand, Lit) and operand.kind in ("int", "double"):
                # Folded so that -9223372036854775808 is one int literal, as in CEL.
                value = operand.value
                assert isinstance(value, int | float)
                return Lit(tok.pos, operand.kind, -value)
            return Unary(tok.pos, tok.text, operand)
        return self.member()

    def member(self) -> Node:
        node = self.primary()
        while True:
            if self.at(".?") or self.at("[?"):
                raise ParseError("optional selection is not supported", self.tok.pos)
            if self.at("."):
                self.take()
                tok = self.take()
                if tok.kind != "ident":
                    raise ParseError("expected a field or method name after '.'", tok.pos)
                if self.at("("):
                    self.take()
                    node = Call(tok.pos, node, tok.text, self.args(")"))
                else:
                    node = Select(tok.pos, node, tok.text)
            elif self.at("["):
                pos = self.take().pos
                index = self.expr()
                self.expect("]")
                node = Index(pos, node, index)
            else:
                return node

    def args(self, close: str) -> tuple[Node, ...]:
        items: list[Node] = []
        while not self.at(close):
            items.append(self.expr())
            if not self.at(","):
                break
            self.take()
        self.expect(close)
        return tuple(items)

    def primary(self) -> Node:
        tok = self.take()
        if tok.kind == "num":
            return _number_literal(tok.text, tok.pos)
        if tok.kind == "str":
            return _string_literal(tok.text, tok.pos)
        if tok.kind == "ident":
            if tok.text in ("true", "false"):
                return Lit(tok.pos, "bool", tok.text == "true")
            if tok.text == "null":
                return Lit(tok.pos, "null", None)
            if tok.text in _RESERVED or tok.text == "in":
                raise ParseError(f"'{tok.text}' is a reserved word", tok.pos)
            if self.at("("):
                self.take()
                return Call(tok.pos, None, tok.text, self.args(")"))
            if self.at("{"):
                raise ParseError("message literals are not supported", tok.pos)
            return Ident(tok.pos, tok.text)
        if tok.text == "(":
            node = self.expr()
            self.expect(")")
            return node
        if tok.text == "[":
            return ListLit(tok.pos, self.args("]"))
        if tok.text == "{":
            entries: list[tuple[Node, Node]] = []
            while not self.at("}"):
                key = self.expr()
                self.expect(":")
                entries.append((key, self.expr()))
                if not self.at(","):
                    break
                self.take()
            self.expect("}")
            return MapLit(tok.pos, tuple(entries))
        if tok.text == ".":
            raise ParseError("leading-dot names are not supported", tok.pos)
        found = tok.text or "end of expression"
        raise ParseError(f"unexpected '{found}'", tok.pos)


def parse(source: str) -> Node:
    """The syntax tree of ``source``; raises :class:`ParseError`."""
    return _Parser(source).parse()
