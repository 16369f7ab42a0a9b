"""What systemd gives a service, made by hand for process tests: the notification socket of Type=notify
(sd_notify(3)) and a listening socket handed over as with socket activation (sd_listen_fds(3))."""
import os
import secrets
import socket
import subprocess


class NotifySocket:
    """A datagram socket that receives what a service sends to NOTIFY_SOCKET."""

    def __init__(self):
        self.path = f"/tmp/fbn-{secrets.token_hex(4)}.sock"
        self.socket = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.socket.bind(self.path)
        # Only so that a service that never notifies fails the test instead of hanging it.
        self.socket.settimeout(120)

    def next(self) -> str:
        return self.socket.recv(4096).decode()

    def next_except_watchdog(self) -> str:
        while (message := self.next()) == "WATCHDOG=1":
            pass
        return message

    def close(self):
        self.socket.close()
        os.unlink(self.path)


def listening_unix_socket(path: str) -> socket.socket:
    """A listening Unix stream socket at `path`, as a .socket unit's ListenStream= makes it."""
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    listener.bind(path)
    listener.listen(256)
    return listener


def start_activated(command, listener: socket.socket, env: dict, stderr) -> subprocess.Popen:
    """Starts `command` with `listener` handed over as systemd does: descriptor 3, LISTEN_FDS=1 and
    LISTEN_PID the new process's own pid (the shell's `$$`, which `exec` keeps)."""
    descriptor = listener.fileno()
    # bash moves the socket to descriptor 3 (no preexec_fn: other threads may be starting processes).
    move = "" if descriptor == 3 else f"exec 3<&{descriptor} {descriptor}<&-; "
    return subprocess.Popen(
        ["bash", "-c", move + 'LISTEN_PID=$$ exec "$0" "$@"', *command], env={**env, "LISTEN_FDS": "1"},
        pass_fds=(descriptor,), stderr=stderr,
    )
