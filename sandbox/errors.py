"""Every error the sandbox raises to the rest of the daemon.

They carry plain strings and ints only: an error that crosses from a worker must never hold a live
object, and an error shown to a user must say what to do, not print a traceback.
"""

from __future__ import annotations


class SandboxError(Exception):
    """Base class: catch this to handle any plugin failure without crashing the daemon."""


class PluginCompileError(SandboxError):
    """The plugin source breaks a rule of the sandbox policy or is not valid Python."""

    def __init__(
        self, filename: str, lineno: int, col: int, message: str, problems: tuple[tuple[int, int, str], ...] = ()
    ) -> None:
        self.filename = filename
        self.lineno = lineno
        self.col = col
        self.message = message
        # Every problem found, not only the first, so an author fixes them in one pass.
        self.problems = problems or ((lineno, col, message),)
        super().__init__(str(self))

    def __str__(self) -> str:
        return f"{self.filename}:{self.lineno}:{self.col}: {self.message}"

    def to_dict(self) -> dict[str, object]:
        return {
            "filename": self.filename,
            "lineno": self.lineno,
            "col": self.col,
            "message": self.message,
            "problems": [list(p) for p in self.problems],
        }


class PluginLoadError(SandboxError):
    """The plugin compiled but its module-level code failed, timed out, or its worker died."""

    def __init__(self, message: str, type_name: str = "", filename: str = "", lineno: int = 0) -> None:
        self.type_name = type_name
        self.message = message
        self.filename = filename
        self.lineno = lineno
        super().__init__(str(self))

    def __str__(self) -> str:
        where = f"{self.filename}:{self.lineno}: " if self.filename else ""
        kind = f"{self.type_name}: " if self.type_name else ""
        return f"{where}{kind}{self.message}"


class PluginCallError(SandboxError):
    """Plugin code raised. Only its type name, message and location in the plugin cross over."""

    def __init__(self, type_name: str, message: str, filename: str, lineno: int) -> None:
        self.type_name = type_name
        self.message = message
        self.filename = filename
        self.lineno = lineno
        super().__init__(str(self))

    def __str__(self) -> str:
        return f"{self.filename}:{self.lineno}: {self.type_name}: {self.message}"


class PluginTimeout(SandboxError):
    """The call passed its wall deadline; the worker was killed and will be restarted."""

    def __init__(self, plugin: str, func: str, timeout: float) -> None:
        self.plugin = plugin
        self.func = func
        self.timeout = timeout
        super().__init__(
            f"plugin {plugin!r}: {func}() did not finish within {timeout:g} s; "
            "its worker was stopped and will restart on the next call"
        )


class PluginCrashed(SandboxError):
    """The worker process died during a call (out of memory, CPU limit, signal)."""

    def __init__(self, plugin: str, detail: str) -> None:
        self.plugin = plugin
        self.detail = detail
        super().__init__(f"plugin {plugin!r}: worker stopped unexpectedly ({detail}); it will restart on the next call")


class PluginSuspended(SandboxError):
    """Too many failures in a row: calls are refused until someone resumes the plugin."""

    def __init__(self, plugin: str, failures: int, last_error: str) -> None:
        self.plugin = plugin
        self.failures = failures
        self.last_error = last_error
        super().__init__(
            f"plugin {plugin!r} is suspended after {failures} failures in a row "
            f"(last: {last_error}); fix it and reload it, or resume it"
        )


class PluginBusy(SandboxError):
    """The plugin's budget of calls running or waiting at once is spent: this call is refused
    at once (or gave up waiting at its deadline) instead of holding one more engine thread."""

    def __init__(self, plugin: str, waiting: int, waited: float | None = None, *, everyone: bool = False) -> None:
        self.plugin = plugin
        self.waiting = waiting
        if everyone:
            how, budget = f"{waiting} calls of all plugins are running or waiting", "max_pending_calls_all"
        elif waited is not None:
            how, budget = f"waited {waited:g} s for its earlier calls", "max_pending_calls per plugin"
        else:
            how, budget = f"{waiting} calls are running or waiting", "max_pending_calls per plugin"
        super().__init__(
            f"plugin {plugin!r} is busy ({how}); this call was dropped. The budget is "
            f"{budget} (docs/security.md, Budgets)"
        )


class CapabilityDenied(SandboxError):
    """Host side: a capability call was refused (not granted, out of scope, or denied)."""


class CapabilityFailed(SandboxError):
    """Host side: a granted, in-scope call failed while doing the work (network down, ...)."""


class ServiceUnavailable(CapabilityFailed):
    """The engine did not provide the back end this capability needs in this context."""
