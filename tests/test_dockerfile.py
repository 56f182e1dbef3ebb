"""The Dockerfile, replayed without docker: each instruction of the top-level ``Dockerfile`` is read from
its text and carried out in a temporary directory that stands in for the image's root file system.

What is proved: the build context that ``.dockerignore`` lets through holds what the COPY lines name; the
RUN lines succeed (``pip install --no-cache-dir .`` really installs the package, non-editable, from the
copied sources, with its dependencies from PyPI, and the sources are really removed afterwards); the
ENTRYPOINT starts the service with the image's ENV, as the USER of the Dockerfile (when the test runs as
root), reading only the installed files; the HEALTHCHECK's command, exactly as written, passes within its
timeout and the service is ready within the start period; the service scores an article with the
shipped model.

What cannot be proved here: anything about the base image itself (``python:3.11-slim`` cannot be pulled:
no docker daemon, no registry). A fresh venv made with a local Python of the FROM image's version stands
in for the image's python and pip, and the host's system libraries for the image's.

Slow on purpose (marked ``slow``): the fresh venv downloads every dependency from PyPI, without pip's
cache, as the Dockerfile does; one to a few minutes. Skips when that Python or PyPI is not available.
"""

from __future__ import annotations

import json
import os
import re
import shlex
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import urllib.request
import warnings
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Any

import httpx
import pytest
from liveserver import STARTUP_TIMEOUT_S, LiveServer, free_port, stop_server
from resources import CLEAN, CLEAN_TITLE

REPO = Path(__file__).resolve().parents[1]
DOCKERFILE = REPO / "Dockerfile"
DOCKERIGNORE = REPO / ".dockerignore"
PYPI_PROBE = "https://pypi.org/simple/pip/"
RUN_TIMEOUT_S = 1800  # one RUN line; `pip install .` downloads ~200 MB of wheels

# The base image's PATH (python:*-slim). /usr/local is where that image keeps python and pip: the replay
# puts a fresh venv there, inside the temporary root, so these entries are mapped into it.
BASE_PATH = ("/usr/local/bin", "/usr/local/sbin", "/usr/local/bin", "/usr/sbin", "/usr/bin", "/sbin", "/bin")
BASE_ENV = {"LANG": "C.UTF-8"}  # set by the python images

# RUN lines are executed only when every command in them is one of these and no argument is an absolute
# path outside a WORKDIR: a guard against changing this host (apt-get, chown /...), not a sandbox. User
# and group creation is emulated (recorded, a home folder made in the root) instead of run on this host.
RUN_PROGRAMS = set("pip pip3 python python3 rm mkdir cp mv ln chmod touch echo true".split())
ACCOUNT_PROGRAMS = {"groupadd", "useradd"}
RUN_SEPARATORS = {"&&", ";"}

# Network plumbing a `docker build` would get from the daemon (proxies are predefined build arguments)
# and that pip needs to reach the index from this host. pip's configuration files are not read
# (PIP_CONFIG_FILE=/dev/null): the host's find-links, constraints or extra indexes are not in the image.
NETWORK_ENV = (
    *(
        "HTTP_PROXY",
        "HTTPS_PROXY",
        "NO_PROXY",
        "ALL_PROXY",
        "http_proxy",
        "https_proxy",
        "no_proxy",
        "all_proxy",
    ),
    *("SSL_CERT_FILE", "SSL_CERT_DIR", "REQUESTS_CA_BUNDLE", "CURL_CA_BUNDLE", "PIP_CERT", "PIP_INDEX_URL"),
    "PIP_DEFAULT_TIMEOUT",
)


class Unsupported(Exception):
    """An instruction the replay cannot carry out faithfully: the test fails with this message."""


# -- reading the Dockerfile


@dataclass(frozen=True)
class Instruction:
    line: int
    keyword: str  # upper case
    args: str  # continuation lines joined, the escape characters removed

    def fail(self, why: str) -> Unsupported:
        return Unsupported(f"Dockerfile line {self.line}: {self.keyword} {self.args[:80]!r}: {why}")


def parse_dockerfile(text: str) -> list[Instruction]:
    lines = text.splitlines()
    for raw in lines:  # parser directives come first; only the default escape character is understood
        m = re.fullmatch(r"#\s*(\w+)\s*=\s*(.*)", raw.strip())
        if not m:
            break
        if m.group(1).lower() == "escape" and m.group(2).strip() != "\\":
            raise Unsupported(f"parser directive {raw.strip()!r}: only the default escape '\\' is understood")
    out: list[Instruction] = []
    buf: str | None = None
    start = 0
    for number, raw in enumerate(lines, 1):
        stripped = raw.strip()
        if not stripped or stripped.startswith("#"):
            continue  # blank and comment lines, also inside a continuation (docker drops them too)
        if buf is None:
            buf, start = "", number
        body = raw.rstrip()
        if body.endswith("\\"):
            buf += body[:-1]
            continue
        buf += body
        keyword, _, args = buf.strip().partition(" ")
        out.append(Instruction(start, keyword.upper(), args.strip()))
        buf = None
    if buf is not None:
        raise Unsupported(f"Dockerfile line {start}: the file ends inside a line continuation")
    return out


def exec_form(ins: Instruction, text: str) -> list[str]:
    try:
        argv = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ins.fail(f"only the exec (JSON) form is replayed: {exc}") from exc
    if not (isinstance(argv, list) and argv and all(isinstance(a, str) for a in argv)):
        raise ins.fail("the exec form must be a non-empty JSON list of strings")
    return argv


def parse_duration(ins: Instruction, text: str) -> float:
    units = {"ns": 1e-9, "us": 1e-6, "ms": 1e-3, "s": 1.0, "m": 60.0, "h": 3600.0}
    parts = re.findall(r"(\d+(?:\.\d+)?)(ns|us|ms|s|m|h)", text)
    if not parts or "".join(n + u for n, u in parts) != text:
        raise ins.fail(f"cannot read the duration {text!r}")
    return sum(float(n) * units[u] for n, u in parts)


# -- .dockerignore (moby/patternmatcher semantics: last matching pattern wins; a pattern also matches a
# path when it matches one of the path's parent directories; `**` spans any number of directories)


def _pattern_regex(pattern: str) -> re.Pattern[str]:
    out, i = "", 0
    while i < len(pattern):
        ch = pattern[i]
        if pattern.startswith("**/", i):
            out, i = out + "(?:.*/)?", i + 3
        elif pattern.startswith("**", i):
            out, i = out + ".*", i + 2
        elif ch == "*":
            out, i = out + "[^/]*", i + 1
        elif ch == "?":
            out, i = out + "[^/]", i + 1
        elif ch == "[":
            end = pattern.index("]", i + 1)
            cls = pattern[i + 1 : end]
            out, i = out + "[" + ("^" + cls[1:] if cls.startswith("^") else cls) + "]", end + 1
        else:
            out, i = out + re.escape(ch), i + 1
    return re.compile(out)


def read_dockerignore(path: Path) -> list[tuple[bool, re.Pattern[str]]]:
    rules = []
    if path.is_file():
        for raw in path.read_text().splitlines():
            line = raw.strip()
            if not line or line.startswith("#"):
                continue
            exclusion = line.startswith("!")
            pattern = os.path.normpath(line[1:].strip() if exclusion else line).lstrip("/")
            rules.append((exclusion, _pattern_regex(pattern)))
    return rules


def ignored(rules: list[tuple[bool, re.Pattern[str]]], rel: str) -> bool:
    parts = rel.split("/")
    candidates = [rel] + ["/".join(parts[: i + 1]) for i in range(len(parts) - 1)]
    matched = False
    for exclusion, regex in rules:
        if any(regex.fullmatch(c) for c in candidates):
            matched = not exclusion
    return matched


# -- the replay


@dataclass
class Image:
    """What the replay built: a temporary root and the image's configuration."""

    root: Path
    python_version: tuple[int, int] = (0, 0)
    base_python: str = ""
    workdir: PurePosixPath = PurePosixPath("/")
    workdirs: tuple[PurePosixPath, ...] = ()  # every WORKDIR of the Dockerfile: the prefixes that are mapped
    env: dict[str, str] = field(default_factory=dict)  # as written in the Dockerfile (image paths)
    groups: dict[str, int] = field(default_factory=dict)
    users: dict[str, tuple[int, int, PurePosixPath]] = field(default_factory=dict)  # name: uid, gid, home
    user: tuple[int, int] | None = None  # USER, resolved; None: root
    run_as: dict[str, Any] = field(default_factory=dict)  # Popen arguments that switch to USER
    run_as_note: str | None = None  # why processes do not switch to USER, when they do not
    exposed: list[int] = field(default_factory=list)
    healthcheck: list[str] = field(default_factory=list)
    health_options: dict[str, float] = field(default_factory=dict)
    entrypoint: list[str] = field(default_factory=list)
    log: list[str] = field(default_factory=list)

    # Mapping: an image path /x is <root>/x. That covers WORKDIR, COPY destinations, created home folders
    # and /usr/local (the venv). ENV values and RUN lines are rewritten only where they name a path under a
    # WORKDIR (here /app: THRESHER_MODEL_DIR=/app/models/default becomes <root>/app/models/default).
    def host(self, path: PurePosixPath) -> Path:
        assert path.is_absolute(), path
        return self.root.joinpath(*path.parts[1:])

    def under_workdir(self, value: str) -> bool:
        return any(value == str(w) or value.startswith(str(w).rstrip("/") + "/") for w in self.workdirs)

    def map_value(self, value: str) -> str:
        return str(self.root) + value if value.startswith("/") and self.under_workdir(value) else value

    def map_text(self, text: str) -> str:
        for w in sorted(self.workdirs, key=lambda p: -len(str(p))):
            if str(w) != "/":
                mapped = self.map_value(str(w)).replace("\\", "\\\\")  # a literal replacement
                text = re.sub(r"(?<![\w./-])" + re.escape(str(w)) + r"(?=/|\s|$)", mapped, text)
        return text

    @property
    def python(self) -> Path:
        return self.host(PurePosixPath("/usr/local/bin/python"))

    def env_for(self, home: PurePosixPath) -> dict[str, str]:
        """The environment of a process in the image: base image PATH (with /usr/local mapped), HOME,
        the base image's LANG and the Dockerfile's ENV (paths mapped)."""
        path = [str(self.host(PurePosixPath(p))) if p.startswith("/usr/local/") else p for p in BASE_PATH]
        env = {"PATH": ":".join(path), "HOME": str(self.host(home)), **BASE_ENV}
        env.update({k: self.map_value(v) for k, v in self.env.items()})
        return env

    def home(self) -> PurePosixPath:
        if self.user is None:
            return PurePosixPath("/root")
        for uid, _gid, home in self.users.values():
            if uid == self.user[0]:
                return home
        return PurePosixPath("/")


def _run_tokens(ins: Instruction, text: str) -> list[list[str]]:
    lexer = shlex.shlex(text, posix=True, punctuation_chars=True)
    lexer.whitespace_split = True
    segments: list[list[str]] = [[]]
    for token in lexer:
        if token in RUN_SEPARATORS:
            segments.append([])
        elif token and set(token) <= set("();<>|&"):
            raise ins.fail(f"the shell operator {token!r} is not replayed (only && and ;)")
        else:
            segments[-1].append(token)
    return [s for s in segments if s]


def _account(ins: Instruction, argv: list[str]) -> dict[str, object]:
    """One groupadd/useradd command, read (not run: it would change this host's accounts)."""
    names = {
        "-g": "gid",
        "--gid": "gid",
        "-u": "uid",
        "--uid": "uid",
        "-s": "shell",
        "--shell": "shell",
        "-d": "home",
        "--home-dir": "home",
    }
    flags = {"-m": "create_home", "--create-home": "create_home"}
    out: dict[str, object] = {"kind": argv[0], "create_home": False}
    rest = list(argv[1:])
    while rest:
        tok = rest.pop(0)
        opt, eq, val = tok.partition("=")
        if opt in names:
            out[names[opt]] = val if eq else rest.pop(0)
        elif tok in flags:
            out[flags[tok]] = True
        elif tok.startswith("-"):
            raise ins.fail(f"{argv[0]} option {tok!r} is not replayed")
        elif "name" in out:
            raise ins.fail(f"{argv[0]}: more than one name")
        else:
            out["name"] = tok
    if "name" not in out:
        raise ins.fail(f"{argv[0]} without a name")
    return out


def plan(instructions: list[Instruction]) -> list[tuple[Instruction, dict[str, object]]]:
    """Check every instruction and read its arguments, without doing anything; raises Unsupported."""
    workdirs: list[PurePosixPath] = []
    for ins in instructions:
        if ins.keyword == "WORKDIR":
            if "$" in ins.args:
                raise ins.fail("variables are not replayed")
            base = workdirs[-1] if workdirs else PurePosixPath("/")
            workdirs.append(base / ins.args)
    probe = Image(root=Path("/"), workdirs=tuple(workdirs))
    resolved_workdirs = iter(workdirs)

    steps: list[tuple[Instruction, dict[str, object]]] = []
    froms = 0
    for ins in instructions:
        kw, args = ins.keyword, ins.args
        step: dict[str, object] = {}
        if kw == "FROM":
            froms += 1
            m = re.fullmatch(r"(?:docker\.io/)?(?:library/)?python:(\d+)\.(\d+)(?:[.\w-]*)", args)
            if froms > 1 or not m:
                raise ins.fail("only one stage FROM python:X.Y[-variant] is replayed (a venv of that Python)")
            step["version"] = (int(m.group(1)), int(m.group(2)))
        elif kw == "ENV":
            if "$" in args:
                raise ins.fail("variables are not replayed")
            first = args.split(None, 1)
            if "=" not in first[0]:  # legacy form: ENV key value
                pairs = [(first[0], first[1].strip() if len(first) > 1 else "")]
            else:
                pairs = []
                for tok in shlex.split(args, posix=True):
                    key, eq, value = tok.partition("=")
                    if not eq or not key:
                        raise ins.fail(f"cannot read {tok!r} as key=value")
                    pairs.append((key, value))
            for key, value in pairs:
                if value.startswith("/") and not probe.under_workdir(value):
                    raise ins.fail(f"{key}={value} is an absolute path outside every WORKDIR: cannot map it")
            step["pairs"] = pairs
        elif kw == "RUN":
            text = " ".join(exec_form(ins, args)) if args.startswith("[") else args
            segments = _run_tokens(ins, text)
            programs = [s[0] for s in segments]
            if programs and all(p in ACCOUNT_PROGRAMS for p in programs):
                step["accounts"] = [_account(ins, s) for s in segments]
            elif any(p not in RUN_PROGRAMS for p in programs):
                bad = sorted({p for p in programs if p not in RUN_PROGRAMS})
                raise ins.fail(f"{bad} would act on this host, not inside the replayed image")
            else:
                for tok in (t.partition("=")[2] if t.startswith("-") else t for s in segments for t in s):
                    if tok.startswith("/") and not probe.under_workdir(tok):
                        raise ins.fail(f"{tok} is outside every WORKDIR: it would be this host's file")
                    if ".." in PurePosixPath(tok).parts:
                        raise ins.fail(f"{tok}: '..' is not replayed")
                step["argv"] = exec_form(ins, args) if args.startswith("[") else ["sh", "-c", args]
        elif kw == "WORKDIR":
            step["path"] = next(resolved_workdirs)
        elif kw == "COPY":
            if args.startswith("--"):
                raise ins.fail("COPY options (--from, --chown, --chmod, ...) are not replayed")
            parts = exec_form(ins, args) if args.startswith("[") else args.split()
            if len(parts) < 2:
                raise ins.fail("COPY needs a source and a destination")
            for src in parts[:-1]:
                if any(c in src for c in "*?[$") or src.startswith("/") or ".." in PurePosixPath(src).parts:
                    raise ins.fail(f"source {src!r}: only plain paths inside the build context are replayed")
            step.update(srcs=parts[:-1], dest=parts[-1])
        elif kw == "USER":
            if not re.fullmatch(r"[\w.-]+(?::[\w.-]+)?", args):
                raise ins.fail("expected USER user[:group]")
            step["spec"] = args
        elif kw == "EXPOSE":
            ports = []
            for tok in args.split():
                m = re.fullmatch(r"(\d+)(?:/(tcp|udp))?", tok)
                if not m:
                    raise ins.fail(f"cannot read the port {tok!r}")
                ports.append(int(m.group(1)))
            step["ports"] = ports
        elif kw == "HEALTHCHECK":
            m = re.fullmatch(r"((?:--[\w-]+=\S+\s+)*)CMD\s+(.*)", args, re.DOTALL)
            if not m:
                raise ins.fail("only HEALTHCHECK [--option=value ...] CMD ... is replayed")
            options = {"interval": 30.0, "timeout": 30.0, "start-period": 0.0, "retries": 3.0}
            for opt in m.group(1).split():
                name, _, value = opt[2:].partition("=")
                if name not in options and name != "start-interval":
                    raise ins.fail(f"unknown option --{name}")
                options[name] = float(value) if name == "retries" else parse_duration(ins, value)
            cmd = m.group(2).strip()
            step["argv"] = exec_form(ins, cmd) if cmd.startswith("[") else ["/bin/sh", "-c", cmd]
            step["options"] = options
        elif kw == "ENTRYPOINT":
            step["argv"] = exec_form(ins, args)
        else:
            raise ins.fail("an instruction this replay does not understand")
        steps.append((ins, step))
    if froms != 1:
        raise Unsupported("the Dockerfile has no FROM")
    return steps


def find_python(version: tuple[int, int]) -> tuple[str, bool] | None:
    """A local Python of that version with venv and ensurepip: (its executable, usable by other users).
    Prefers one that a user without privileges can run (pyenv's lives under /root, which is 0700)."""
    name = f"python{version[0]}.{version[1]}"
    probe = (
        f"import sys, venv, ensurepip; assert sys.version_info[:2] == {version!r}; "
        "print(getattr(sys, '_base_executable', sys.executable))"
    )
    found: list[tuple[str, bool]] = []
    seen: set[str] = set()
    for cand in (shutil.which(name), f"/usr/local/bin/{name}", f"/usr/bin/{name}", sys.executable):
        if not cand or not os.path.exists(cand):
            continue
        res = subprocess.run([cand, "-c", probe], capture_output=True, text=True)
        if res.returncode != 0:
            continue
        exe = os.path.realpath(res.stdout.strip())
        if exe in seen:
            continue
        seen.add(exe)
        shared = True
        if os.geteuid() == 0:  # can an account without privileges (nobody) run it?
            try:
                as_nobody = subprocess.run(
                    [exe, "-c", probe], capture_output=True, user=65534, group=65534, extra_groups=[], cwd="/"
                )
                shared = as_nobody.returncode == 0
            except PermissionError:
                shared = False
        found.append((exe, shared))
    found.sort(key=lambda f: not f[1])
    return found[0] if found else None


def pypi_unreachable() -> str | None:
    try:
        urllib.request.urlopen(urllib.request.Request(PYPI_PROBE, method="HEAD"), timeout=5).close()
    except OSError as exc:
        return f"{PYPI_PROBE}: {exc}"
    return None


def _run_logged(image: Image, argv: list[str], log: Path, **kw) -> None:
    started = time.monotonic()
    with log.open("ab") as handle:
        handle.write(f"\n$ {shlex.join(argv)}\n".encode())
        handle.flush()
        # Its own process group: on a timeout (or Ctrl-C) the whole tree (sh and the pip it started) is
        # killed, not only sh, so nothing keeps writing into the temporary root while it is removed.
        proc = subprocess.Popen(argv, stdout=handle, stderr=subprocess.STDOUT, umask=0o022, start_new_session=True, **kw)
        try:
            proc.wait(timeout=RUN_TIMEOUT_S)
        except BaseException:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
            raise
        res = proc
    image.log.append(f"{shlex.join(argv)[:100]}: {time.monotonic() - started:.0f} s")
    assert res.returncode == 0, (
        f"{argv} failed ({res.returncode}):\n{log.read_text(errors='replace')[-4000:]}"
    )


def build(root: Path, logdir: Path) -> Image:
    """Carry out the Dockerfile in ``root`` (an empty directory standing in for the image's /)."""
    steps = plan(parse_dockerfile(DOCKERFILE.read_text()))
    rules = read_dockerignore(DOCKERIGNORE)
    workdirs = [s["path"] for i, s in steps if i.keyword == "WORKDIR"]
    image = Image(root=root, workdirs=tuple(w for w in workdirs if isinstance(w, PurePosixPath)))
    log = logdir / "build.log"
    is_root = os.geteuid() == 0

    def mkdirs(path: Path) -> None:  # directories the build creates: root-owned, 0755, as in an image
        missing = [p for p in [path, *path.parents] if not p.exists()]
        path.mkdir(parents=True, exist_ok=True)
        for p in missing:
            p.chmod(0o755)

    for ins, step in steps:
        kw = ins.keyword
        if kw == "FROM":
            version = step["version"]
            assert isinstance(version, tuple)
            found = find_python(version)
            if found is None:
                pytest.skip(
                    f"no local Python {version[0]}.{version[1]} with venv/ensurepip to stand in for {ins.args}"
                )
            image.python_version, image.base_python = version, found[0]
            if not found[1]:
                image.run_as_note = f"{found[0]} cannot be run by other users: processes stay as this user"
            mkdirs(root / "usr")
            _run_logged(image, [found[0], "-m", "venv", str(root / "usr" / "local")], log)
        elif kw == "ENV":
            pairs = step["pairs"]
            assert isinstance(pairs, list)
            image.env.update(dict(pairs))
        elif kw == "WORKDIR":
            assert isinstance(step["path"], PurePosixPath)
            image.workdir = step["path"]
            mkdirs(image.host(image.workdir))
        elif kw == "COPY":
            srcs, dest = step["srcs"], str(step["dest"])
            assert isinstance(srcs, list)
            target = image.host(image.workdir / dest)
            into_dir = dest.endswith("/") or len(srcs) > 1
            for src in srcs:
                rel = os.path.normpath(src)
                path = REPO / rel
                if path.is_dir():
                    copied = 0
                    for dirpath, _dirs, files in os.walk(path):
                        for name in files:
                            file = Path(dirpath) / name
                            if ignored(rules, file.relative_to(REPO).as_posix()):
                                continue
                            out = target / file.relative_to(path)
                            mkdirs(out.parent)
                            shutil.copy2(file, out)  # keeps the mode, as COPY does
                            copied += 1
                    if not copied:
                        raise ins.fail(f"{src}: nothing in the build context (excluded by .dockerignore?)")
                elif path.is_file() and not ignored(rules, Path(rel).as_posix()):
                    out = target / path.name if into_dir else target
                    mkdirs(out.parent)
                    shutil.copy2(path, out)
                else:
                    raise ins.fail(f"{src}: not in the build context (missing, or excluded by .dockerignore)")
        elif kw == "RUN" and "accounts" in step:
            accounts = step["accounts"]
            assert isinstance(accounts, list)
            for acc in accounts:
                name = str(acc["name"])
                if acc["kind"] == "groupadd":
                    if "gid" not in acc:
                        raise ins.fail(f"groupadd {name}: give --gid (the replay does not allocate ids)")
                    image.groups[name] = int(str(acc["gid"]))
                    continue
                if "uid" not in acc or "gid" not in acc:
                    raise ins.fail(f"useradd {name}: give --uid and --gid (the replay does not allocate ids)")
                gid_text = str(acc["gid"])
                gid = int(gid_text) if gid_text.isdigit() else image.groups[gid_text]
                home = PurePosixPath(str(acc.get("home", f"/home/{name}")))
                image.users[name] = (int(str(acc["uid"])), gid, home)
                if acc["create_home"]:
                    mkdirs(image.host(home).parent)
                    image.host(home).mkdir(mode=0o700)  # useradd's HOME_MODE on Debian
                    if is_root:
                        os.chown(image.host(home), int(str(acc["uid"])), gid)
        elif kw == "RUN":
            argv = step["argv"]
            assert isinstance(argv, list)
            argv = [image.map_text(a) for a in argv]
            env = image.env_for(image.home())
            env.update({k: os.environ[k] for k in NETWORK_ENV if k in os.environ})
            env["PIP_CONFIG_FILE"] = os.devnull
            mkdirs(Path(env["HOME"]))
            _run_logged(image, argv, log, cwd=image.host(image.workdir), env=env, **image.run_as)
        elif kw == "USER":
            user, _, group = str(step["spec"]).partition(":")
            unknown_user = not user.isdigit() and user not in image.users
            if unknown_user or (group and not group.isdigit() and group not in image.groups):
                raise ins.fail("unknown user or group (the replay knows those its RUN lines created)")
            uid = int(user) if user.isdigit() else image.users[user][0]
            known = [u[1] for u in image.users.values() if u[0] == uid]
            if group:
                gid = int(group) if group.isdigit() else image.groups[group]
            else:  # docker: the user's group from the image's passwd, else 0
                gid = known[0] if known else 0
            image.user = (uid, gid)
            if not is_root:
                image.run_as_note = (
                    f"the test runs as uid {os.geteuid()}, not root: cannot switch to {uid}:{gid}"
                )
            if image.run_as_note is None:
                image.run_as = {"user": uid, "group": gid, "extra_groups": []}
        elif kw == "EXPOSE":
            ports = step["ports"]
            assert isinstance(ports, list)
            image.exposed.extend(ports)
        elif kw == "HEALTHCHECK":
            argv, options = step["argv"], step["options"]
            assert isinstance(argv, list) and isinstance(options, dict)
            image.healthcheck, image.health_options = argv, options
        elif kw == "ENTRYPOINT":
            argv = step["argv"]
            assert isinstance(argv, list)
            image.entrypoint = argv
    return image


# -- the tests


def test_dockerfile_is_replayable():
    """Fast: every instruction of the Dockerfile is one the replay below can carry out faithfully."""
    steps = plan(parse_dockerfile(DOCKERFILE.read_text()))
    keywords = [ins.keyword for ins, _ in steps]
    assert keywords.count("FROM") == 1 and "ENTRYPOINT" in keywords and "HEALTHCHECK" in keywords


def test_parser_joins_continuations_and_reads_env_forms():
    text = (
        '# c\nFROM python:3.11-slim\nENV A=1 \\\n    # inside\n    B="two words" \\\n    C=3\nENV D four\n'
        "RUN pip install . \\\n    && rm -rf x\nWORKDIR /srv\nENV E=/srv/m\n"
    )
    steps = plan(parse_dockerfile(text))
    assert [s.get("pairs") for _, s in steps if "pairs" in s] == [
        [("A", "1"), ("B", "two words"), ("C", "3")],
        [("D", "four")],
        [("E", "/srv/m")],
    ]
    assert [s["argv"] for i, s in steps if i.keyword == "RUN"] == [
        ["sh", "-c", "pip install .     && rm -rf x"]
    ]
    for bad in (
        "FROM python:3.11-slim\nVOLUME /data\n",
        "FROM python:3.11-slim\nRUN apt-get install -y curl\n",
        "FROM python:3.11-slim\nENV P=/opt/x\n",
        "FROM python:3.11-slim\nENTRYPOINT thresher serve\n",
    ):
        with pytest.raises(Unsupported, match="Dockerfile line 2"):
            plan(parse_dockerfile(bad))


@pytest.fixture(scope="module")
def image(tmp_path_factory) -> Iterator[Image]:
    plan(parse_dockerfile(DOCKERFILE.read_text()))  # an unreplayable Dockerfile fails, it does not skip
    why = pypi_unreachable()
    if why:
        pytest.skip(f"PyPI is unreachable, the image's `pip install` cannot run: {why}")
    # Not pytest's tmp_path: its parents are 0700, and the USER must reach the files as in an image.
    root = Path(tempfile.mkdtemp(prefix="thresher-image-"))
    root.chmod(0o755)
    try:
        started = time.monotonic()
        built = build(root, tmp_path_factory.mktemp("docker-replay"))
        print(f"replayed build in {time.monotonic() - started:.0f} s: " + "; ".join(built.log))
        yield built
    finally:
        shutil.rmtree(root, ignore_errors=True)


@dataclass
class Container:
    server: LiveServer
    env: dict[str, str]
    ready_s: float


@pytest.fixture(scope="module")
def container(image, tmp_path_factory) -> Iterator[Container]:
    """The ENTRYPOINT, started as the image would run it, on a free loopback port (THRESHER_PORT)."""
    if image.run_as_note:
        warnings.warn(f"Dockerfile USER not applied: {image.run_as_note}", stacklevel=1)
    env = image.env_for(image.home())
    env["THRESHER_PORT"] = str(free_port())
    exe = shutil.which(image.entrypoint[0], path=env["PATH"])
    assert exe and Path(exe).is_relative_to(image.root), (
        f"ENTRYPOINT {image.entrypoint[0]} is not installed: {exe}"
    )
    log = tmp_path_factory.mktemp("docker-run") / "container.log"
    url = f"http://127.0.0.1:{env['THRESHER_PORT']}"
    started = time.monotonic()
    with log.open("wb") as handle:
        proc = subprocess.Popen(
            [exe, *image.entrypoint[1:]],
            cwd=image.host(image.workdir),
            env=env,
            stdout=handle,
            stderr=subprocess.STDOUT,
            start_new_session=True,
            **image.run_as,
        )
    server = LiveServer(url=url, proc=proc, log=log)
    try:
        while True:
            assert proc.poll() is None, (
                f"the ENTRYPOINT exited with {proc.returncode}:\n{server.log_text()[-4000:]}"
            )
            try:
                if httpx.get(url + "/readyz", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            elapsed = time.monotonic() - started
            assert elapsed < STARTUP_TIMEOUT_S, (
                f"not ready in {STARTUP_TIMEOUT_S} s:\n{server.log_text()[-4000:]}"
            )
            time.sleep(0.25)
        ready_s = time.monotonic() - started
        print(f"ENTRYPOINT ready in {ready_s:.1f} s as {image.run_as or 'this user'}")
        yield Container(server=server, env=env, ready_s=ready_s)
    finally:
        stop_server(server)  # SIGTERM to its process group, then SIGKILL after 30 s


@pytest.mark.slow
def test_build_installs_the_package_without_its_sources(image):
    """`pip install .` made a regular install in the venv's site-packages, and the RUN's `rm -rf` left no
    package sources in the WORKDIR: what the service imports comes from the install."""
    probe = (
        "import importlib.metadata as md, json, service, training; d = md.distribution('thresher'); "
        "print(json.dumps([service.__file__, training.__file__, d.read_text('direct_url.json')]))"
    )
    res = subprocess.run(
        [str(image.python), "-c", probe],
        cwd=image.host(image.workdir),
        capture_output=True,
        text=True,
        env=image.env_for(image.home()),
        **image.run_as,
    )
    assert res.returncode == 0, res.stderr
    service_file, training_file, direct_url = json.loads(res.stdout)
    site = (
        image.host(PurePosixPath("/usr/local/lib"))
        / "python{}.{}".format(*image.python_version)
        / "site-packages"
    )
    for f in (service_file, training_file):
        assert Path(f).is_relative_to(site), f
    assert not json.loads(direct_url or "{}").get("dir_info", {}).get("editable", False), direct_url
    workdir = image.host(image.workdir)
    leftovers = sorted(p.relative_to(workdir).as_posix() for p in workdir.rglob("*.py"))
    assert not leftovers, f"sources left in the WORKDIR {image.workdir}: {leftovers[:10]}"


@pytest.mark.slow
def test_entrypoint_runs_as_the_dockerfile_user(image, container):
    if image.user is None:
        pytest.fail("the Dockerfile has no USER: the service would run as root")
    assert image.user[0] != 0, "USER is root"
    if image.run_as_note:
        pytest.skip(image.run_as_note)
    status = Path(f"/proc/{container.server.proc.pid}/status").read_text()
    ids = {
        k: v.split()
        for k, v in (line.split(":", 1) for line in status.splitlines())
        if k in ("Uid", "Gid", "Groups")
    }
    assert ids["Uid"] == [str(image.user[0])] * 4, ids
    assert ids["Gid"] == [str(image.user[1])] * 4, ids
    assert ids["Groups"] == [], ids


@pytest.mark.slow
def test_healthcheck_passes(image, container):
    """The HEALTHCHECK's command, as written, in the container's environment and as its user."""
    assert image.healthcheck, "the Dockerfile has no HEALTHCHECK"
    options = image.health_options
    assert container.ready_s <= options["start-period"], (
        f"ready after {container.ready_s:.0f} s, beyond the health check's start period ({options['start-period']} s)"
    )
    argv = list(image.healthcheck)
    resolved = shutil.which(argv[0], path=container.env["PATH"])
    assert resolved, f"{argv[0]} is not in the image's PATH"
    res = subprocess.run(
        [resolved, *argv[1:]],
        cwd=image.host(image.workdir),
        env=container.env,
        capture_output=True,
        text=True,
        timeout=options["timeout"],
        **image.run_as,
    )
    assert res.returncode == 0, res.stdout + res.stderr
    # The port the image binds by default is the one it EXPOSEs (the test moved it to a free one).
    assert int(image.env["THRESHER_PORT"]) in image.exposed, (image.env["THRESHER_PORT"], image.exposed)


@pytest.mark.slow
def test_service_scores_with_the_shipped_model(image, container):
    manifest = json.loads((REPO / "models" / "default" / "manifest.json").read_text())
    with container.server.client() as client:
        resp = client.post("/v1/score", json={"title": CLEAN_TITLE, "text": CLEAN})
        assert resp.status_code == 200, resp.text
        body = resp.json()
        assert 0 <= body["score"] <= 100
        assert body["model"]["version"] == manifest["version"]
        page = client.get("/")  # the page and its assets come from the installed package data
        assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
        for asset in sorted((REPO / "service" / "static").iterdir()):
            if asset.name != "index.html":
                assert client.get(f"/static/{asset.name}").status_code == 200, asset.name
