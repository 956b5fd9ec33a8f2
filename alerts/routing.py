"""The compiled route tree (runtime form of ``route``), as Alertmanager's dispatch/route.go.

Matching walks the tree depth first. A child that matches stops the walk among
its siblings unless it has ``continue: true``. A node whose children all fail
to match matches itself. Options (receiver, group_by, group_wait,
group_interval, repeat_interval) are inherited from the parent unless set;
mute/active time intervals are not inherited, as in Alertmanager.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from datetime import timedelta

from alerts.config import (
    DEFAULT_GROUP_INTERVAL,
    DEFAULT_GROUP_WAIT,
    DEFAULT_REPEAT_INTERVAL,
    ReceiverConfig,
    RouteConfig,
    TimeIntervalConfig,
    check_routing,
)
from alerts.durations import format_duration, parse_duration
from alerts.matchers import Matcher, MatchType, matchers_from

__all__ = ["Route", "RouteOpts", "RoutingError", "compile_routes", "group_key_hash"]


class RoutingError(ValueError):
    """The route tree is invalid; ``errors`` holds (path, message) pairs."""

    def __init__(self, errors: list[tuple[str, str]]) -> None:
        self.errors = errors
        super().__init__("; ".join(f"{p}: {m}" for p, m in errors))


@dataclass(frozen=True, slots=True)
class RouteOpts:
    receiver: str
    group_by: frozenset[str]
    group_by_all: bool
    group_wait: timedelta
    group_interval: timedelta
    repeat_interval: timedelta
    mute_time_intervals: tuple[str, ...] = ()
    active_time_intervals: tuple[str, ...] = ()


@dataclass(eq=False, slots=True)
class Route:
    opts: RouteOpts
    matchers: tuple[Matcher, ...]
    continue_: bool
    id: str
    path: str
    routes: list[Route] = field(default_factory=list)
    use_cache: bool = True  # memoise decisions on the labels the tree reads (benchmarks turn it off)
    _names: tuple[str, ...] = ()
    _cache: dict[tuple[str | None, ...], tuple[Route, ...]] = field(default_factory=dict)
    _gk_cache: dict[tuple[str | None, ...], str] = field(default_factory=dict)
    _gb_sorted: tuple[str, ...] = ()

    def match(self, labels: Mapping[str, str]) -> tuple[Route, ...]:
        """Routes an alert with these labels goes to, in route order (root always matches)."""
        if not self.use_cache:
            return tuple(self._match(labels))
        key = tuple(labels.get(n) for n in self._names)
        hit = self._cache.get(key)
        if hit is None:
            hit = tuple(self._match(labels))
            if len(self._cache) < 100_000:
                self._cache[key] = hit
        return hit

    def _match(self, labels: Mapping[str, str]) -> list[Route]:
        if not all(m.matches(labels) for m in self.matchers):
            return []
        out: list[Route] = []
        for child in self.routes:
            got = child._match(labels)
            out.extend(got)
            if got and not child.continue_:
                break
        return out or [self]

    def group_labels(self, labels: Mapping[str, str]) -> dict[str, str]:
        if self.opts.group_by_all:
            return dict(labels)
        return {k: v for k, v in labels.items() if k in self.opts.group_by}

    def group_key(self, labels: Mapping[str, str]) -> str:
        """Alertmanager's group key: route id and the group labels."""
        if not self.opts.group_by_all:
            proj = tuple(labels.get(n) for n in self._gb_sorted)
            hit = self._gk_cache.get(proj)
            if hit is None:
                inner = ",".join(f'{n}="{v}"' for n, v in zip(self._gb_sorted, proj, strict=True) if v is not None)
                hit = f"{self.id}:{{{inner}}}"
                if len(self._gk_cache) < 100_000:
                    self._gk_cache[proj] = hit
            return hit
        gl = self.group_labels(labels)
        inner = ",".join(f'{k}="{gl[k]}"' for k in sorted(gl))
        return f"{self.id}:{{{inner}}}"

    def walk(self) -> Iterator[Route]:
        yield self
        for child in self.routes:
            yield from child.walk()

    def tree(self, indent: int = 0) -> list[str]:
        """Human-readable tree, one route per line (``vigil alerts routes test --tree``)."""
        o = self.opts
        ms = ", ".join(str(m) for m in self.matchers)
        gb = "..." if o.group_by_all else ",".join(sorted(o.group_by))
        line = (
            f"{'  ' * indent}{'{' + ms + '}' if ms else '{}'}  receiver: {o.receiver}"
            f"  group_by: [{gb}]{'  continue' if self.continue_ else ''}"
            f"  wait/interval/repeat: {format_duration(o.group_wait)}/{format_duration(o.group_interval)}"
            f"/{format_duration(o.repeat_interval)}"
        )
        if o.mute_time_intervals:
            line += f"  mute: {','.join(o.mute_time_intervals)}"
        if o.active_time_intervals:
            line += f"  active: {','.join(o.active_time_intervals)}"
        out = [line]
        for child in self.routes:
            out.extend(child.tree(indent + 1))
        return out


def group_key_hash(group_key: str) -> str:
    return hashlib.sha256(group_key.encode("utf-8")).hexdigest()[:24]


def _build(cfg: RouteConfig, parent: RouteOpts | None, parent_id: str, index: int, path: str) -> Route:
    def pick(val: str | None, inherited: timedelta | None, default: str) -> timedelta:
        if val is not None:
            return parse_duration(val)
        return inherited if inherited is not None else parse_duration(default)

    if cfg.group_by is not None:
        group_by_all = cfg.group_by == ["..."]
        group_by = frozenset() if group_by_all else frozenset(cfg.group_by)
    elif parent is not None:
        group_by_all, group_by = parent.group_by_all, parent.group_by
    else:
        group_by_all, group_by = False, frozenset()
    opts = RouteOpts(
        receiver=cfg.receiver or (parent.receiver if parent else ""),
        group_by=group_by,
        group_by_all=group_by_all,
        group_wait=pick(cfg.group_wait, parent.group_wait if parent else None, DEFAULT_GROUP_WAIT),
        group_interval=pick(cfg.group_interval, parent.group_interval if parent else None, DEFAULT_GROUP_INTERVAL),
        repeat_interval=pick(cfg.repeat_interval, parent.repeat_interval if parent else None, DEFAULT_REPEAT_INTERVAL),
        mute_time_intervals=tuple(cfg.mute_time_intervals),
        active_time_intervals=tuple(cfg.active_time_intervals),
    )
    # Alertmanager sorts a route's matchers (by name, value, then type); its route id shows them so.
    order = {MatchType.EQUAL: 0, MatchType.NOT_EQUAL: 1, MatchType.REGEX: 2, MatchType.NOT_REGEX: 3}
    matchers = tuple(
        sorted(matchers_from(cfg.matchers, cfg.match, cfg.match_re), key=lambda m: (m.name, m.value, order[m.type]))
    )
    ms = ",".join(str(m) for m in matchers)
    rid = "{}" if parent is None else f"{parent_id}/{{{ms}}}/{index}"
    route = Route(opts=opts, matchers=matchers, continue_=cfg.continue_, id=rid, path=path)
    route._gb_sorted = tuple(sorted(group_by))
    route.routes = [_build(child, opts, rid, i, f"{path}.routes[{i}]") for i, child in enumerate(cfg.routes)]
    return route


def compile_routes(
    route: RouteConfig,
    receivers: list[ReceiverConfig],
    time_intervals: list[TimeIntervalConfig] | None = None,
) -> Route:
    """Validate and compile the wire-form route tree; raises :class:`RoutingError`."""
    errors = check_routing(route, receivers, time_intervals or [])
    if errors:
        raise RoutingError(errors)
    root = _build(route, None, "", 0, "route")
    names: set[str] = set()
    for r in root.walk():
        for m in r.matchers:
            names.add(m.name)
    for r in root.walk():
        r._names = tuple(sorted(names))
    return root
