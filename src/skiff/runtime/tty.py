"""A foreground terminal for `run -t` / `exec -t` without --console-socket (runc does the same):
the runtime listens on a private console socket, receives the pty master from the container and
copies bytes between it and its own stdin/stdout until the process exits.
"""

from __future__ import annotations

import array
import os
import socket
import tempfile

__all__ = ["TtyProxy"]


class TtyProxy:
    def __init__(self) -> None:
        self._dir = tempfile.mkdtemp(prefix="skiff-tty-")
        self.path = os.path.join(self._dir, "console.sock")
        self._server = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self._server.bind(self.path)
        self._server.listen(1)
        self.master = -1

    def receive(self) -> int:
        """The pty master the container sent (call once the container is created)."""
        conn, _ = self._server.accept()
        with conn:
            fds = array.array("i")
            _, anc, _, _ = conn.recvmsg(4096, socket.CMSG_LEN(fds.itemsize))
            for level, kind, data in anc:
                if level == socket.SOL_SOCKET and kind == socket.SCM_RIGHTS:
                    fds.frombytes(data[: len(data) - len(data) % fds.itemsize])
        if not fds:
            raise OSError("no pty master received on the console socket")
        self.master = fds[0]
        self._copy_winsize()
        return self.master

    def _copy_winsize(self) -> None:
        import fcntl
        import termios

        if os.isatty(0):
            try:
                size = fcntl.ioctl(0, termios.TIOCGWINSZ, b"\0" * 8)
                fcntl.ioctl(self.master, termios.TIOCSWINSZ, size)
            except OSError:
                pass

    def proxy(self, pid: int) -> int:
        """Copy stdin -> pty and pty -> stdout until ``pid`` exits; return its exit code."""
        import select
        import signal
        import termios
        import tty

        from skiff.runtime.wait import exit_code

        saved = None
        if os.isatty(0):
            saved = termios.tcgetattr(0)
            tty.setraw(0)
        signal.signal(signal.SIGWINCH, lambda *_: self._copy_winsize())
        inputs = [self.master, 0]
        status: int | None = None
        try:
            while True:
                try:
                    ready, _, _ = select.select(inputs, [], [], 0.1)
                except InterruptedError:
                    continue
                if self.master in ready:
                    try:
                        data = os.read(self.master, 65536)
                    except OSError:  # EIO: the last process holding the pty slave is gone
                        data = b""
                    if not data:
                        break
                    os.write(1, data)
                if 0 in ready:
                    data = os.read(0, 65536)
                    if data:
                        os.write(self.master, data)
                    else:
                        inputs.remove(0)
                if status is None:
                    done, st = os.waitpid(pid, os.WNOHANG)
                    if done:
                        status = st
        finally:
            if saved is not None:
                termios.tcsetattr(0, termios.TCSADRAIN, saved)
        if status is None:
            _, status = os.waitpid(pid, 0)
        return exit_code(status)

    def close(self) -> None:
        if self.master >= 0:
            os.close(self.master)
            self.master = -1
        self._server.close()
        try:
            os.unlink(self.path)
            os.rmdir(self._dir)
        except OSError:
            pass
