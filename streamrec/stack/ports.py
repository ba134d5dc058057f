"""Port checks done before anything starts, so a clash fails fast and clearly."""

from __future__ import annotations

import socket

from streamrec.stack.errors import PortInUseError


def is_free(host: str, port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        # Without SO_REUSEADDR a port in TIME_WAIT from our own last run would
        # look taken; the servers themselves set it too.
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host, port))
        except OSError:
            return False
    return True


def require_free(host: str, port: int, *, what: str, flag: str, env_var: str) -> None:
    if not is_free(host, port):
        raise PortInUseError(
            f"port {port} ({what}) is already in use by another process; stop that "
            f"process or pick another port with {flag} / {env_var}"
        )


def is_listening(host: str, port: int, timeout: float = 0.5) -> bool:
    try:
        with socket.create_connection((host, port), timeout=timeout):
            return True
    except OSError:
        return False
