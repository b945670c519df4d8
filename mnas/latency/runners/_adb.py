"""A small, strict client for the Android Debug Bridge (``adb``) command line.

Every call goes through :meth:`Adb.run` with a timeout; adb's ways of saying that the
device is gone (``device 'X' not found``, ``device offline``, ``no devices/emulators
found``, a dropped connection) become :class:`DeviceDisconnectedError`, so the runner
can wait for the phone to come back and retry, and the builder can stop with a table
that keeps every finished entry.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import time
from collections.abc import Sequence
from dataclasses import dataclass

from mnas.errors import MnasError, MnasInputError

__all__ = ["Adb", "AdbResult", "DeviceDisconnectedError", "find_adb", "list_devices"]

_INSTALL_ADB = (
    "adb not found: install Android SDK platform-tools "
    "(https://developer.android.com/tools/releases/platform-tools; e.g. `apt install adb` or "
    "`brew install android-platform-tools`) and put it on PATH, or set $ADB to its path")
_GONE = ("not found", "offline", "no devices", "no emulators", "device unauthorized",
         "connection reset", "broken pipe", "protocol fault", "closed", "disconnected")


class DeviceDisconnectedError(MnasError):
    """The phone went away (unplugged, rebooted, adb server restarted) during a run."""


@dataclass(frozen=True)
class AdbResult:
    """Outcome of one adb invocation."""

    args: tuple[str, ...]
    returncode: int
    stdout: str
    stderr: str

    @property
    def output(self) -> str:
        """stdout and stderr together (adb shell mixes them on old devices)."""
        return self.stdout + self.stderr


def find_adb() -> str:
    """The adb executable: ``$ADB`` or ``adb`` on PATH.

    Raises:
        MnasInputError: adb is not installed, saying how to install it.
    """
    env = os.environ.get("ADB")
    if env:
        if shutil.which(env) is None:
            raise MnasInputError(f"$ADB is {env!r}, which is not an executable; {_INSTALL_ADB}")
        return env
    found = shutil.which("adb")
    if found is None:
        raise MnasInputError(_INSTALL_ADB)
    return found


def list_devices(adb: str, *, timeout_s: float = 30.0) -> dict[str, str]:
    """``{serial: state}`` from ``adb devices`` (``device``, ``offline``, ``unauthorized``)."""
    try:
        proc = subprocess.run([adb, "devices"], capture_output=True, text=True,
                              timeout=timeout_s, check=False)
    except (OSError, subprocess.TimeoutExpired) as err:
        raise MnasError(f"`adb devices` failed ({err}); restart the adb server with "
                        "`adb kill-server` and try again") from None
    devices = {}
    for line in proc.stdout.splitlines():
        parts = line.split()
        if len(parts) >= 2 and not line.startswith(("List of devices", "*")):
            devices[parts[0]] = parts[1]
    return devices


class Adb:
    """adb bound to one device serial.

    Args:
        serial: The device serial (``adb devices``).
        executable: The adb binary; default :func:`find_adb`.
        timeout_s: Default timeout of one call.
    """

    def __init__(self, serial: str, *, executable: str | None = None,
                 timeout_s: float = 600.0) -> None:
        self.serial = serial
        self.executable = executable or find_adb()
        self.timeout_s = timeout_s

    def run(self, args: Sequence[str], *, timeout_s: float | None = None,
            check: bool = True) -> AdbResult:
        """Run ``adb -s SERIAL ARGS...``.

        Raises:
            DeviceDisconnectedError: adb says the device is not there (any return code).
            MnasError: A non-zero exit status when ``check`` (the message quotes the output),
                or a timeout.
        """
        cmd = (self.executable, "-s", self.serial, *args)
        try:
            proc = subprocess.run(cmd, capture_output=True, text=True,
                                  timeout=timeout_s or self.timeout_s, check=False)
        except subprocess.TimeoutExpired:
            raise MnasError(f"`adb {' '.join(args)}` on {self.serial} timed out after "
                            f"{timeout_s or self.timeout_s:.0f} s; check the phone is awake and "
                            "responsive") from None
        except OSError as err:
            raise MnasError(f"cannot run {self.executable!r} ({err}); {_INSTALL_ADB}") from None
        result = AdbResult(args=tuple(args), returncode=proc.returncode, stdout=proc.stdout,
                           stderr=proc.stderr)
        # Exit status 255 is adb's own failure (transport dropped mid-command); ask adb
        # whether the device is still there before blaming the remote command.
        if self._is_gone(result) or (proc.returncode == 255 and self.state() != "device"):
            raise DeviceDisconnectedError(
                f"device {self.serial} disconnected during `adb {' '.join(args[:2])}` "
                f"({_first_line(result.output)}); reconnect it and rerun the same command: "
                "finished entries are kept")
        if check and proc.returncode != 0:
            raise MnasError(f"`adb {' '.join(args)}` on {self.serial} failed with exit status "
                            f"{proc.returncode}: {_first_line(result.output)}")
        return result

    def _is_gone(self, result: AdbResult) -> bool:
        # adb itself (not the remote command) reports a missing device on stderr with
        # "error:" / "adb:" and exit status 1; a remote command's own output never starts so.
        if result.returncode == 0:
            return False
        for line in result.stderr.lower().splitlines():
            line = line.strip()
            if line.startswith(("error:", "adb: error", "adb:")) and any(
                    word in line for word in _GONE):
                return True
        return False

    def shell(self, command: str, *, timeout_s: float | None = None,
              check: bool = True) -> AdbResult:
        """``adb -s SERIAL shell COMMAND`` (the remote exit status is adb's, Android 7+)."""
        return self.run(["shell", command], timeout_s=timeout_s, check=check)

    def getprop(self, name: str) -> str:
        """A system property, ``""`` when unset."""
        return self.shell(f"getprop {name}", check=False).stdout.strip()

    def push(self, local: str, remote: str) -> None:
        """Copy a file to the device."""
        self.run(["push", local, remote])

    def state(self) -> str:
        """``device``, ``offline``, ``unauthorized`` or ``missing``."""
        return list_devices(self.executable).get(self.serial, "missing")

    def wait_for(self, timeout_s: float, *, poll_s: float = 1.0) -> bool:
        """Wait until the device is back (state ``device``); False after ``timeout_s``."""
        deadline = time.monotonic() + timeout_s
        while True:
            if self.state() == "device":
                return True
            if time.monotonic() >= deadline:
                return False
            time.sleep(min(poll_s, max(0.0, deadline - time.monotonic())))


def _first_line(text: str) -> str:
    for line in text.splitlines():
        if line.strip():
            return line.strip()[:300]
    return "no output"
