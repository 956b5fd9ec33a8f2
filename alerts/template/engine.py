"""A Go text/template subset: parse once, execute over Alertmanager's data model.

Supported: text and ``{{ }}`` actions with ``{{-``/``-}}`` trimming and ``{{/* comments */}}``; pipelines
with ``|``; field chains (``.Labels.severity``, ``$x.Name``, ``(pipeline).Field``); variables
(``$x := ``, ``$i, $e := range``, ``$``); string (interpreted and raw), number, bool and nil literals;
``if``/``else if``/``else``, ``range`` (with ``else``, ``break``, ``continue``), ``with``/``else``,
``define``, ``template`` and ``block``; function calls from :mod:`alerts.template.funcs`.

Anything else (an unknown function, ``call``, a method with arguments) is a :class:`TemplateError` at
parse time, so ``vigil config validate`` reports it instead of a notification failing later.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

__all__ = ["Template", "TemplateError", "parse"]


class TemplateError(ValueError):
    """A template that does not parse, or uses something beyond the supported subset."""


# --- lexing ----------------------------------------------------------------------------------------

_ACTION = re.compile(r"\{\{(-\s)?(.*?)(\s-)?\}\}", re.DOTALL)
_TOKEN = re.compile(
    r"""\s*(?:
    (?P<str>"(?:[^"\\\n]|\\.)*")
  | (?P<raw>`[^`]*`)
  | (?P<char>'(?:[^'\\]|\\.)+')
  | (?P<num>[-+]?(?:0[xX][0-9a-fA-F]+|\d+\.?\d*(?:[eE][-+]?\d+)?|\.\d+))
  | (?P<decl>:=)
  | (?P<assign>=)
  | (?P<var>\$[A-Za-z0-9_]*)
  | (?P<field>(?:\.[A-Za-z_][A-Za-z0-9_]*)+)
  | (?P<dot>\.)
  | (?P<ident>[A-Za-z_][A-Za-z0-9_]*)
  | (?P<punct>[|(),])
)""",
    re.VERBOSE,
)


@dataclass(slots=True)
class _Tok:
    kind: str
    text: str


def _tokens(src: str) -> list[_Tok]:
    out: list[_Tok] = []
    i = 0
    while i < len(src):
        if src[i:].strip() == "":
            break
        m = _TOKEN.match(src, i)
        if not m or m.end() == i:
            raise TemplateError(f"unexpected {src[i:].strip()[:20]!r} in action")
        kind = m.lastgroup or ""
        text = m.group(kind)
        out.append(_Tok(kind, text))
        i = m.end()
        # a field chain right after ) or a variable: (x).Field / $x.Field
        if kind in ("var",) or (kind == "punct" and text == ")"):
            fm = re.match(r"(?:\.[A-Za-z_][A-Za-z0-9_]*)+", src[i:])
            if fm:
                out.append(_Tok("chain", fm.group(0)))
                i += fm.end()
    return out


# --- nodes -----------------------------------------------------------------------------------------


@dataclass(slots=True)
class Field:
    names: tuple[str, ...]


@dataclass(slots=True)
class Var:
    name: str
    names: tuple[str, ...] = ()


@dataclass(slots=True)
class Lit:
    value: Any


@dataclass(slots=True)
class Ident:
    name: str


@dataclass(slots=True)
class Chain:
    node: Any
    names: tuple[str, ...]


@dataclass(slots=True)
class Command:
    args: list[Any]


@dataclass(slots=True)
class Pipe:
    decl: list[str]
    cmds: list[Command]
    assign: bool = False


@dataclass(slots=True)
class Text:
    text: str


@dataclass(slots=True)
class Action:
    pipe: Pipe


@dataclass(slots=True)
class Branch:
    kind: str  # if | range | with
    pipe: Pipe
    body: list[Any]
    else_: list[Any] = field(default_factory=list)


@dataclass(slots=True)
class Call:
    name: str
    pipe: Pipe | None


@dataclass(slots=True)
class Loop:
    kind: str  # break | continue


# --- parsing ---------------------------------------------------------------------------------------

_GO_ESC = {"n": "\n", "t": "\t", "r": "\r", "\\": "\\", '"': '"', "a": "\a", "b": "\b", "f": "\f", "v": "\v"}


def _unquote(s: str) -> str:
    if s.startswith("`"):
        return s[1:-1]
    body = s[1:-1]
    out: list[str] = []
    i = 0
    while i < len(body):
        c = body[i]
        if c != "\\":
            out.append(c)
            i += 1
            continue
        e = body[i + 1]
        if e in _GO_ESC:
            out.append(_GO_ESC[e])
            i += 2
        elif e in "xuU":
            w = {"x": 2, "u": 4, "U": 8}[e]
            out.append(chr(int(body[i + 2 : i + 2 + w], 16)))
            i += 2 + w
        else:
            raise TemplateError(f"invalid escape \\{e} in string {s}")
    return "".join(out)


class _Parser:
    def __init__(self, functions: Mapping[str, Callable[..., Any]]) -> None:
        self.functions = functions
        self.defines: dict[str, list[Any]] = {}
        self.vars: list[set[str]] = [{"$"}]

    # actions -> token lists
    def parse(self, src: str) -> list[Any]:
        items: list[tuple[str, Any]] = []
        pos = 0
        trim_next = False
        for m in _ACTION.finditer(src):
            text = src[pos : m.start()]
            if trim_next:
                text = text.lstrip()
            if m.group(1):
                text = text.rstrip()
            if text:
                items.append(("text", text))
            body = m.group(2)
            trim_next = bool(m.group(3))
            pos = m.end()
            stripped = body.strip()
            if stripped.startswith("/*"):
                if not stripped.endswith("*/"):
                    raise TemplateError("unclosed comment")
                continue
            items.append(("action", _tokens(body)))
        rest = src[pos:]
        if "{{" in rest:
            raise TemplateError("unclosed action")
        if trim_next:
            rest = rest.lstrip()
        if rest:
            items.append(("text", rest))
        self.items = items
        self.i = 0
        nodes, end = self._list(())
        if end is not None:
            raise TemplateError(f"unexpected {{{{{end}}}}}")
        return nodes

    def _list(self, stops: tuple[str, ...]) -> tuple[list[Any], str | None]:
        nodes: list[Any] = []
        while self.i < len(self.items):
            kind, val = self.items[self.i]
            self.i += 1
            if kind == "text":
                nodes.append(Text(val))
                continue
            toks: list[_Tok] = val
            if not toks:
                raise TemplateError("missing value for command")
            head = toks[0].text if toks[0].kind == "ident" else ""
            if head in ("end", "else"):
                if head not in stops and not (head == "else" and "else" in stops):
                    raise TemplateError(f"unexpected {{{{{head}}}}}")
                self._pending = toks[1:]
                return nodes, head
            if head in ("if", "with", "range"):
                nodes.append(self._branch(head, toks[1:]))
            elif head in ("break", "continue"):
                nodes.append(Loop(head))
            elif head in ("define", "block"):
                if len(toks) < 2 or toks[1].kind not in ("str", "raw"):
                    raise TemplateError(f"{head} needs a quoted name")
                name = _unquote(toks[1].text)
                self.vars.append({"$"})
                body, end = self._list(("end",))
                self.vars.pop()
                if end != "end":
                    raise TemplateError(f"unclosed {head} {name!r}")
                self.defines[name] = body
                if head == "block":
                    nodes.append(Call(name, self._pipe(toks[2:]) if len(toks) > 2 else None))
            elif head == "template":
                if len(toks) < 2 or toks[1].kind not in ("str", "raw"):
                    raise TemplateError("template needs a quoted name")
                nodes.append(Call(_unquote(toks[1].text), self._pipe(toks[2:]) if len(toks) > 2 else None))
            else:
                nodes.append(Action(self._pipe(toks)))
        return nodes, None

    def _branch(self, kind: str, toks: list[_Tok]) -> Branch:
        self.vars.append(set())
        pipe = self._pipe(toks, allow_two=kind == "range")
        body, end = self._list(("end", "else"))
        node = Branch(kind, pipe, body)
        if end == "else":
            rest = self._pending
            self.vars[-1] = set()
            if rest and rest[0].kind == "ident" and rest[0].text in ("if", "with"):
                node.else_ = [self._branch(rest[0].text, rest[1:])]  # else if / else with: one end closes all
                self.vars.pop()
                return node
            node.else_, end = self._list(("end",))
        self.vars.pop()
        if end != "end":
            raise TemplateError(f"unclosed {kind}")
        return node

    def _pipe(self, toks: list[_Tok], *, allow_two: bool = False) -> Pipe:
        decl: list[str] = []
        assign = False
        for j, t in enumerate(toks):
            if t.kind in ("decl", "assign"):
                names = [x.text for x in toks[:j] if x.kind == "var"]
                if not names or len(names) > (2 if allow_two else 1):
                    raise TemplateError("bad variable declaration")
                decl, assign = names, t.kind == "assign"
                toks = toks[j + 1 :]
                break
            if t.kind not in ("var", "punct") or (t.kind == "punct" and t.text != ","):
                break
        for n in decl:
            if assign and not any(n in s for s in self.vars):
                raise TemplateError(f"undefined variable {n}")
            self.vars[-1].add(n)
        cmds: list[Command] = []
        cur: list[Any] = []
        depth = 0
        start = 0
        k = 0
        groups: list[list[_Tok]] = []
        while k < len(toks):
            t = toks[k]
            if t.kind == "punct" and t.text == "(":
                depth += 1
            elif t.kind == "punct" and t.text == ")":
                depth -= 1
                if depth < 0:
                    raise TemplateError("unexpected right paren")
            elif t.kind == "punct" and t.text == "|" and depth == 0:
                groups.append(toks[start:k])
                start = k + 1
            k += 1
        if depth:
            raise TemplateError("unclosed left paren")
        groups.append(toks[start:])
        for g in groups:
            if not g:
                raise TemplateError("missing command in pipeline")
            cur = self._operands(g)
            cmds.append(Command(cur))
        if not cmds:
            raise TemplateError("missing value for command")
        return Pipe(decl, cmds, assign)

    def _operands(self, toks: list[_Tok]) -> list[Any]:
        out: list[Any] = []
        k = 0
        while k < len(toks):
            t = toks[k]
            k += 1
            if t.kind == "punct" and t.text == "(":
                depth, j = 1, k
                while depth:
                    if j >= len(toks):
                        raise TemplateError("unclosed left paren")
                    if toks[j].kind == "punct":
                        depth += {"(": 1, ")": -1}.get(toks[j].text, 0)
                    j += 1
                node: Any = self._pipe(toks[k : j - 1])
                k = j
                if k < len(toks) and toks[k].kind == "chain":
                    node = Chain(node, tuple(toks[k].text[1:].split(".")))
                    k += 1
                out.append(node)
            elif t.kind == "field":
                out.append(Field(tuple(t.text[1:].split("."))))
            elif t.kind == "dot":
                out.append(Field(()))
            elif t.kind == "var":
                if not any(t.text in s for s in self.vars):
                    raise TemplateError(f"undefined variable {t.text}")
                names: tuple[str, ...] = ()
                if k < len(toks) and toks[k].kind == "chain":
                    names = tuple(toks[k].text[1:].split("."))
                    k += 1
                out.append(Var(t.text, names))
            elif t.kind in ("str", "raw"):
                out.append(Lit(_unquote(t.text)))
            elif t.kind == "num":
                txt = t.text
                out.append(Lit(int(txt, 0) if re.fullmatch(r"[-+]?(0[xX][0-9a-fA-F]+|\d+)", txt) else float(txt)))
            elif t.kind == "char":
                out.append(Lit(ord(_unquote('"' + t.text[1:-1] + '"'))))
            elif t.kind == "ident":
                if t.text in ("true", "false"):
                    out.append(Lit(t.text == "true"))
                elif t.text == "nil":
                    out.append(Lit(None))
                elif t.text in self.functions:
                    out.append(Ident(t.text))
                else:
                    raise TemplateError(f'function "{t.text}" not defined')
            else:
                raise TemplateError(f"unexpected {t.text!r} in command")
        return out


# --- execution -------------------------------------------------------------------------------------


class _Break(Exception):
    pass


class _Continue(Exception):
    pass


MAX_OUTPUT = 1_000_000


def truth(v: Any) -> bool:
    if v is None:
        return False
    if isinstance(v, bool):
        return v
    if isinstance(v, int | float):
        return v != 0
    if isinstance(v, str | Sequence | Mapping):
        return len(v) > 0
    return True


def _method(v: Any, name: str) -> Any:
    """A Go-style exported method of ``v`` (methods win over map keys, as in Go), or None."""
    if not name[:1].isupper():
        return None
    attr = getattr(type(v), name, None)
    return getattr(v, name) if callable(attr) else None


def field_of(v: Any, name: str) -> Any:
    meth = _method(v, name)
    if meth is not None:
        return meth()
    if isinstance(v, Mapping):
        return v.get(name, "")  # Alertmanager's maps are map[string]string: a missing key is ""
    attr = getattr(v, name, None) if name[:1].isupper() else None
    if attr is None:
        raise TemplateError(f"can't evaluate field {name} in type {type(v).__name__}")
    return attr


def go_str(v: Any) -> str:
    if v is None:
        return "<no value>"
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, str):
        return v
    if isinstance(v, float):
        return repr(v) if v != int(v) else str(int(v))
    if isinstance(v, Mapping):
        return "map[" + " ".join(f"{k}:{go_str(v[k])}" for k in sorted(v)) + "]"
    if isinstance(v, list | tuple):
        return "[" + " ".join(go_str(x) for x in v) + "]"
    if isinstance(v, datetime):  # Go's time.Time.String()
        text = f"{v.year:04d}-{v.month:02d}-{v.day:02d} {v.hour:02d}:{v.minute:02d}:{v.second:02d}"
        if v.microsecond:
            text += f".{v.microsecond:06d}".rstrip("0")
        return f"{text} {v.strftime('%z')} {v.tzname() or ''}".rstrip()
    return str(v)


@dataclass(slots=True)
class _Ctx:
    out: list[str]
    esc: Callable[..., str] | None
    size: int = 0


class Template:
    """Parsed templates: the main text plus every ``define``."""

    def __init__(
        self,
        functions: Mapping[str, Callable[..., Any]],
        builtins: Mapping[str, Callable[[Any], str]] | None = None,
    ) -> None:
        self.functions = dict(functions)
        self.builtins = dict(builtins or {})  # named templates implemented in Python (Alertmanager's defaults)
        self.defines: dict[str, list[Any]] = {}
        self.main: list[Any] = []

    def with_defines(self, defines: Mapping[str, list[Any]]) -> Template:
        """A copy that also knows ``defines`` (its own take precedence, as the later parse in Go)."""
        t = Template(self.functions, self.builtins)
        t.defines = {**defines, **self.defines}
        return t

    def with_builtins(self, extra: Mapping[str, Callable[[Any], str]]) -> Template:
        """A copy with more named templates implemented in Python (``extra`` wins over the built-ins)."""
        t = Template(self.functions, {**self.builtins, **extra})
        t.defines = dict(self.defines)
        return t

    def add(self, src: str) -> list[Any]:
        p = _Parser(self.functions)
        nodes = p.parse(src)
        self.defines.update(p.defines)
        return nodes

    def execute(self, nodes: list[Any], data: Any, escape: Callable[..., str] | None = None) -> str:
        """``escape(text)`` applies to every printed value not marked safe; an escaper with a true
        ``contextual`` attribute is called as ``escape(text, value, output_so_far)`` for every value."""
        ctx = _Ctx([], escape)
        self._exec(nodes, data, [{"$": data}], ctx, 0)
        return "".join(ctx.out)

    def _emit(self, ctx: _Ctx, v: Any) -> None:
        s = go_str(v)
        esc = ctx.esc
        if esc is not None and getattr(esc, "contextual", False):
            # a contextual escaper (html/template's) sees the output so far and decides for safe values too
            ctx.out.append(esc(s, v, ctx.out))
        else:
            ctx.out.append(s if esc is None or getattr(v, "safe", False) else esc(s))
        ctx.size += len(s)
        if ctx.size > MAX_OUTPUT:
            raise TemplateError("template output exceeds 1 MB")

    def _exec(self, nodes: list[Any], dot: Any, scopes: list[dict[str, Any]], ctx: _Ctx, depth: int) -> None:
        if depth > 100:
            raise TemplateError("exceeded maximum template depth (100)")
        for n in nodes:
            if isinstance(n, Text):
                ctx.out.append(n.text)
            elif isinstance(n, Action):
                v = self._pipe(n.pipe, dot, scopes)
                if not n.pipe.decl:
                    self._emit(ctx, v)
            elif isinstance(n, Branch):
                self._branch(n, dot, scopes, ctx, depth)
            elif isinstance(n, Call):
                body = self.defines.get(n.name)
                arg = self._pipe(n.pipe, dot, scopes) if n.pipe else None
                if body is not None:
                    self._exec(body, arg, [{"$": arg}], ctx, depth + 1)
                    continue
                builtin = self.builtins.get(n.name)
                if builtin is None:
                    raise TemplateError(f'no such template "{n.name}"')
                self._emit(ctx, builtin(arg))
            elif isinstance(n, Loop):
                raise _Break if n.kind == "break" else _Continue

    def _branch(self, n: Branch, dot: Any, scopes: list[dict[str, Any]], ctx: _Ctx, depth: int) -> None:
        inner = [*scopes, {}]
        v = self._pipe(n.pipe, dot, inner, declare_range=n.kind == "range")
        if n.kind == "if":
            self._exec(n.body if truth(v) else n.else_, dot, inner, ctx, depth)
            return
        if n.kind == "with":
            if truth(v):
                self._exec(n.body, v, inner, ctx, depth)
            else:
                self._exec(n.else_, dot, inner, ctx, depth)
            return
        items: list[tuple[Any, Any]]
        if isinstance(v, Mapping):
            items = [(k, v[k]) for k in sorted(v)]
        elif isinstance(v, list | tuple):
            items = list(enumerate(v))
        elif isinstance(v, int) and not isinstance(v, bool):
            items = [(i, i) for i in range(v)]
        elif v is None:
            items = []
        else:
            raise TemplateError(f"range can't iterate over {go_str(v)}")
        if not items:
            self._exec(n.else_, dot, inner, ctx, depth)
            return
        for key, elem in items:
            scope = [*scopes, {}]
            if len(n.pipe.decl) == 2:
                scope[-1][n.pipe.decl[0]] = key
                scope[-1][n.pipe.decl[1]] = elem
            elif n.pipe.decl:
                scope[-1][n.pipe.decl[0]] = elem
            try:
                self._exec(n.body, elem, scope, ctx, depth)
            except _Continue:
                continue
            except _Break:
                break

    def _pipe(self, p: Pipe, dot: Any, scopes: list[dict[str, Any]], *, declare_range: bool = False) -> Any:
        v: Any = None
        first = True
        for cmd in p.cmds:
            v = self._cmd(cmd, dot, scopes, None if first else (v,))
            first = False
        if p.decl and not declare_range:
            if p.assign:
                for s in reversed(scopes):
                    if p.decl[0] in s:
                        s[p.decl[0]] = v
                        break
            else:
                scopes[-1][p.decl[0]] = v
        return v

    def _cmd(self, cmd: Command, dot: Any, scopes: list[dict[str, Any]], piped: tuple[Any, ...] | None) -> Any:
        head = cmd.args[0]
        if isinstance(head, Ident):
            args = [self._arg(a, dot, scopes) for a in cmd.args[1:]]
            if piped is not None:
                args.append(piped[0])
            fn = self.functions[head.name]
            try:
                return fn(*args)
            except TemplateError:
                raise
            except (TypeError, ValueError, KeyError, IndexError) as exc:
                raise TemplateError(f"error calling {head.name}: {exc}") from None
        if len(cmd.args) > 1 or piped is not None:
            # a method with arguments: .CommonLabels.Remove .GroupLabels.Names
            names = head.names if isinstance(head, Field | Var | Chain) else ()
            if not names:
                raise TemplateError("can't give argument to non-function")
            recv = self._arg(_without_last(head), dot, scopes)
            meth = _method(recv, names[-1])
            if meth is None:
                raise TemplateError(f"{names[-1]} is not a method but has arguments")
            args = [self._arg(a, dot, scopes) for a in cmd.args[1:]]
            return meth(*args, *(piped or ()))
        return self._arg(head, dot, scopes)

    def _arg(self, a: Any, dot: Any, scopes: list[dict[str, Any]]) -> Any:
        if isinstance(a, Lit):
            return a.value
        if isinstance(a, Pipe):
            return self._pipe(a, dot, scopes)
        if isinstance(a, Ident):
            return self.functions[a.name]()
        if isinstance(a, Field):
            v, names = dot, a.names
        elif isinstance(a, Var):
            for s in reversed(scopes):
                if a.name in s:
                    v = s[a.name]
                    break
            else:
                raise TemplateError(f"undefined variable {a.name}")
            names = a.names
        elif isinstance(a, Chain):
            v, names = self._arg(a.node, dot, scopes), a.names
        else:
            raise TemplateError(f"cannot evaluate {a!r}")
        for name in names:
            v = field_of(v, name)
        return v


def _without_last(node: Field | Var | Chain) -> Field | Var | Chain:
    if isinstance(node, Field):
        return Field(node.names[:-1])
    if isinstance(node, Var):
        return Var(node.name, node.names[:-1])
    return Chain(node.node, node.names[:-1])


def parse(
    src: str, functions: Mapping[str, Callable[..., Any]], builtins: Mapping[str, Callable[[Any], str]] | None = None
) -> tuple[Template, list[Any]]:
    t = Template(functions, builtins)
    return t, t.add(src)
