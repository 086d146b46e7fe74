"""``fs``: files in the plugin's own data folder, plus folders the user granted.

Paths are checked lexically (no '..', must sit under a granted root) and then opened one
component at a time with ``openat`` and ``O_NOFOLLOW``: no symlink is ever followed below a root,
so a link planted inside the data folder cannot point the host at another file, and there is no
window between a check and the open for a link to be swapped in.
"""

from __future__ import annotations

import contextlib
import json
import os
import stat
from collections.abc import Iterator
from pathlib import Path, PurePosixPath
from typing import Any, ClassVar

from ..errors import CapabilityFailed
from .base import Capability, CapabilityContext, plain, require_str

MAX_FILE_BYTES = 1024 * 1024
#: The plugin's own data folder (``<data>/files``) is bounded, like the store: 64 MiB, 10,000
#: files and folders. Folders the user granted with write_paths are the user's to bound.
MAX_HOME_BYTES = 64 * 1024 * 1024
MAX_HOME_ENTRIES = 10_000
FILES_DIR = "files"


class FsCapability(Capability):
    obj_name = "fs"
    capability = "filesystem"
    methods: ClassVar[frozenset[str]] = frozenset(
        {
            "read_text",
            "write_text",
            "append_text",
            "read_json",
            "write_json",
            "list_dir",
            "exists",
            "stat",
            "delete",
            "mkdir",
        }
    )

    def __init__(
        self,
        ctx: CapabilityContext,
        *,
        max_file_bytes: int = MAX_FILE_BYTES,
        max_home_bytes: int = MAX_HOME_BYTES,
        max_home_entries: int = MAX_HOME_ENTRIES,
    ) -> None:
        super().__init__(ctx)
        self.max_file_bytes = max_file_bytes
        self.max_home_bytes = max_home_bytes
        self.max_home_entries = max_home_entries
        self._home_usage: list[int] | None = None
        self.home = ctx.data_dir / FILES_DIR

    # The roots are read from the grants of the request being served, never kept: a grant
    # narrowed while the worker runs narrows its very next call (issue 10, finding 1).
    @property
    def write_roots(self) -> list[Path]:
        return [self.home] + [Path(os.path.abspath(p)) for p in self.ctx.grants.allow.write_paths]

    @property
    def read_roots(self) -> list[Path]:
        return self.write_roots + [Path(os.path.abspath(p)) for p in self.ctx.grants.allow.read_paths]

    @property
    def deny_write(self) -> list[Path]:
        # Denying reads denies writes too; deny beats allow.
        deny = self.ctx.grants.deny
        return [Path(os.path.abspath(p)) for p in deny.write_paths + deny.read_paths]

    @property
    def deny_read(self) -> list[Path]:
        return [Path(os.path.abspath(p)) for p in self.ctx.grants.deny.read_paths]

    # -- locating ------------------------------------------------------------------------------
    def locate(self, action: str, path: Any, write: bool) -> tuple[Path, tuple[str, ...]]:
        """(root, parts below root) for a plugin path, or an audited denial."""
        text = require_str(path, "path", 4096)
        if not text:
            raise self.deny(action, text, "empty path")
        pure = PurePosixPath(text)
        if ".." in pure.parts:
            raise self.deny(action, text, "'..' is not allowed in paths")
        roots = self.write_roots if write else self.read_roots
        root: Path | None = None
        rel: tuple[str, ...] = ()
        if pure.is_absolute():
            # The longest matching root wins, so a granted subfolder is used with its own rights.
            for candidate in sorted(roots, key=lambda r: len(r.parts), reverse=True):
                if pure.parts[: len(candidate.parts)] == candidate.parts:
                    root, rel = candidate, pure.parts[len(candidate.parts) :]
                    break
            if root is None:
                kind = "write_paths" if write else "read_paths"
                raise self.deny(action, text, f"path is {self.scope_hint(kind)}")
        else:
            root, rel = self.home, pure.parts
        full = PurePosixPath(root, *rel)
        for denied in self.deny_write if write else self.deny_read:
            if full.parts[: len(denied.parts)] == denied.parts:
                raise self.deny(action, text, "path is explicitly denied")
        if root == self.home:
            self.home.mkdir(parents=True, exist_ok=True)
        return root, rel

    @contextlib.contextmanager
    def _parent_fd(
        self, action: str, text: str, root: Path, rel: tuple[str, ...], create_dirs: bool = False
    ) -> Iterator[int]:
        """A directory fd for the parent of ``rel``, walked without following any symlink."""
        try:
            fd = os.open(root, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
        except OSError as exc:
            raise CapabilityFailed(f"fs.{action}({text!r}): root folder unavailable: {exc.strerror}") from None
        try:
            for part in rel[:-1]:
                if create_dirs:
                    with contextlib.suppress(FileExistsError):
                        os.mkdir(part, 0o700, dir_fd=fd)
                try:
                    nfd = os.open(part, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC, dir_fd=fd)
                except OSError as exc:
                    raise self._os_denial(action, text, exc) from None
                os.close(fd)
                fd = nfd
            yield fd
        finally:
            os.close(fd)

    def _os_denial(self, action: str, text: str, exc: OSError) -> Exception:
        import errno

        if exc.errno in (errno.ELOOP, errno.ENOTDIR, errno.EMLINK):
            return self.deny(action, text, "symbolic links are not followed")
        if exc.errno == errno.ENOENT:
            return FileNotFoundError(f"no such file: {text!r}")
        return CapabilityFailed(f"fs.{action}({text!r}): {exc.strerror}")

    def _open(self, action: str, path: Any, flags: int, write: bool) -> tuple[int, str]:
        root, rel = self.locate(action, path, write)
        text = str(path)
        if not rel:
            raise self.deny(action, text, "a file name is needed, not a folder")
        with self._parent_fd(action, text, root, rel, create_dirs=write) as dirfd:
            try:
                fd = os.open(rel[-1], flags | os.O_NOFOLLOW | os.O_CLOEXEC | os.O_NONBLOCK, 0o600, dir_fd=dirfd)
            except OSError as exc:
                raise self._os_denial(action, text, exc) from None
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            os.close(fd)
            raise self.deny(action, text, "only regular files can be used")
        return fd, text

    # -- plugin surface -----------------------------------------------------------------------
    def read_text(self, path: Any) -> str:
        fd, text = self._open("read_text", path, os.O_RDONLY, write=False)
        try:
            data = os.read(fd, self.max_file_bytes + 1)
        finally:
            os.close(fd)
        if len(data) > self.max_file_bytes:
            raise CapabilityFailed(f"{text!r} is larger than {self.max_file_bytes} bytes")
        self.audit("read_text", "allowed", text, f"{len(data)} bytes")
        return data.decode("utf-8", "replace")

    def read_json(self, path: Any) -> Any:
        return json.loads(self.read_text(path))

    def _write(self, action: str, path: Any, content: str, append: bool) -> int:
        data = content.encode("utf-8")
        if len(data) > self.max_file_bytes:
            raise CapabilityFailed(f"cannot write more than {self.max_file_bytes} bytes at once")
        root, _rel = self.locate(action, path, write=True)
        existed = root != self.home or self.exists(path)
        # No O_TRUNC at open: the quota is checked against the old size first.
        flags = os.O_WRONLY | os.O_CREAT | (os.O_APPEND if append else 0)
        fd, text = self._open(action, path, flags, write=True)
        try:
            old = os.fstat(fd).st_size
            if append and old + len(data) > 16 * self.max_file_bytes:
                raise CapabilityFailed(f"{text!r} would grow past {16 * self.max_file_bytes} bytes")
            if root == self.home:
                self._charge(action, text, (len(data) if append else len(data) - old), 0 if existed else 1)
            if not append:
                os.ftruncate(fd, 0)
            os.write(fd, data)
        finally:
            os.close(fd)
        self.audit(action, "allowed", text, f"{len(data)} bytes")
        return len(data)

    def _usage(self) -> list[int]:
        """[bytes, entries] below the data folder, measured once (without following links),
        then kept up to date by this handler's own writes and deletes."""
        if self._home_usage is None:
            size = count = 0
            stack = [str(self.home)]
            while stack and count <= self.max_home_entries:
                try:
                    with os.scandir(stack.pop()) as it:
                        for entry in it:
                            count += 1
                            if entry.is_dir(follow_symlinks=False):
                                stack.append(entry.path)
                            else:
                                size += entry.stat(follow_symlinks=False).st_size
                except OSError:
                    continue
            self._home_usage = [size, count]
        return self._home_usage

    def _charge(self, action: str, text: str, grow: int, entries: int) -> None:
        """The data folder is bounded like the store is: a plugin must not fill the disk."""
        usage = self._usage()
        if usage[0] + grow > self.max_home_bytes or usage[1] + entries > self.max_home_entries:
            self.audit(action, "denied", text, "data folder quota")
            raise CapabilityFailed(
                f"the plugin's data folder is full (limits: "
                f"{self.max_home_bytes} bytes, {self.max_home_entries} "
                "files and folders)"
            )
        usage[0] += grow
        usage[1] += entries

    def write_text(self, path: Any, content: Any) -> int:
        return self._write("write_text", path, require_str(content, "content", self.max_file_bytes), False)

    def append_text(self, path: Any, content: Any) -> int:
        return self._write("append_text", path, require_str(content, "content", self.max_file_bytes), True)

    def write_json(self, path: Any, value: Any) -> int:
        return self._write("write_json", path, json.dumps(plain(value), ensure_ascii=False), False)

    def list_dir(self, path: Any = ".") -> list[dict[str, str]]:
        root, rel = self.locate("list_dir", path, write=False)
        text = str(path)
        with self._parent_fd("list_dir", text, root, rel + ("",)) as dirfd:
            entries = []
            with os.scandir(dirfd) as it:
                for entry in it:
                    kind = (
                        "link"
                        if entry.is_symlink()
                        else "dir"
                        if entry.is_dir(follow_symlinks=False)
                        else "file"
                        if entry.is_file(follow_symlinks=False)
                        else "other"
                    )
                    entries.append({"name": entry.name, "type": kind})
        self.audit("list_dir", "allowed", text, f"{len(entries)} entries")
        return sorted(entries, key=lambda e: e["name"])

    def exists(self, path: Any) -> bool:
        root, rel = self.locate("exists", path, write=False)
        if not rel:
            return True
        try:
            with self._parent_fd("exists", str(path), root, rel) as dirfd:
                os.stat(rel[-1], dir_fd=dirfd, follow_symlinks=False)
        except (FileNotFoundError, OSError):
            return False
        except Exception:
            return False
        return True

    def stat(self, path: Any) -> dict[str, Any]:
        """``{"size", "mtime", "type"}`` of a path, without following a symlink: what a
        file-watching trigger polls to see that a file changed, without reading it."""
        root, rel = self.locate("stat", path, write=False)
        text = str(path)
        try:
            if not rel:
                st = os.stat(root, follow_symlinks=False)
            else:
                with self._parent_fd("stat", text, root, rel) as dirfd:
                    st = os.stat(rel[-1], dir_fd=dirfd, follow_symlinks=False)
        except FileNotFoundError:
            raise FileNotFoundError(f"no such file: {text!r}") from None
        except OSError as exc:
            raise self._os_denial("stat", text, exc) from None
        kinds = {stat.S_IFLNK: "link", stat.S_IFDIR: "dir", stat.S_IFREG: "file"}
        kind = kinds.get(stat.S_IFMT(st.st_mode), "other")
        self.audit("stat", "allowed", text)
        return {"size": st.st_size, "mtime": st.st_mtime, "type": kind}

    def delete(self, path: Any) -> bool:
        root, rel = self.locate("delete", path, write=True)
        text = str(path)
        if not rel:
            raise self.deny("delete", text, "cannot delete a root folder")
        with self._parent_fd("delete", text, root, rel) as dirfd:
            try:
                st = os.stat(rel[-1], dir_fd=dirfd, follow_symlinks=False)
                if root == self.home and self._home_usage is not None:
                    self._home_usage[0] -= 0 if stat.S_ISDIR(st.st_mode) else st.st_size
                    self._home_usage[1] -= 1
                if stat.S_ISDIR(st.st_mode):
                    os.rmdir(rel[-1], dir_fd=dirfd)
                else:
                    # unlink removes a symlink itself, never its target.
                    os.unlink(rel[-1], dir_fd=dirfd)
            except FileNotFoundError:
                return False
            except OSError as exc:
                raise CapabilityFailed(f"fs.delete({text!r}): {exc.strerror}") from None
        self.audit("delete", "allowed", text)
        return True

    def mkdir(self, path: Any) -> bool:
        root, rel = self.locate("mkdir", path, write=True)
        text = str(path)
        if not rel:
            return False
        if root == self.home:
            self._charge("mkdir", text, 0, len(rel))
        with self._parent_fd("mkdir", text, root, rel, create_dirs=True) as dirfd:
            try:
                os.mkdir(rel[-1], 0o700, dir_fd=dirfd)
            except FileExistsError:
                return False
        self.audit("mkdir", "allowed", text)
        return True
