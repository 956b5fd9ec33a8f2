"""Vigil's triage console: alerts, drift timelines, silences and approvals in the browser.

One ASGI app (:func:`vigil.console.app.create_app`), two hosts
(:mod:`vigil.console.hosts`): the Function App's ``console`` HTTP trigger
(``vigil.functions_console``) and ``vigil serve``. Nothing here is imported until a
console request (or ``vigil serve``) needs it, so other triggers never pay for
Starlette or Jinja. See docs/console.md.
"""
