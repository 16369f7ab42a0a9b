"""scripts/install.sh and the systemd units of deploy/systemd: installed into a staging directory
(DESTDIR, the debug binaries through --bin-dir: nothing is built and nothing outside the staging
directory is touched), checked by systemd-analyze verify, and their command lines run as systemd would
run them (ExecStart with the example settings) as a working feedbackd + gateway pair."""
import hashlib
import os
import pathlib
import re
import secrets
import shutil
import signal
import sqlite3
import stat
import subprocess
import sys
import urllib.error
import urllib.request

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "Tests" / "pysupport"))
from feedback_stack import bin_path, free_port, wait_until  # noqa: E402

PREFIX = "/opt/feedback-rpc"  # not the default: the rewrite of ExecStart= must show
UNITS = ("feedbackd.service", "feedback-gateway.service")
SOCKET_UNIT = "feedbackd.socket"  # socket activation: the socket systemd holds for feedbackd
PRODUCTS = ("feedbackd", "feedback-gateway", "feedbackctl")
SOCKET = "/run/feedback/feedback.sock"


def install(destdir: pathlib.Path, *args: str) -> subprocess.CompletedProcess:
    assert str(destdir).startswith("/") and destdir != pathlib.Path("/")
    env = {k: v for k, v in os.environ.items() if k not in ("BIN_DIR", "UNIT_DIR", "SYSUSERS_DIR")}
    env["DESTDIR"] = str(destdir)
    return subprocess.run([str(ROOT / "scripts" / "install.sh"), *args], env=env, capture_output=True, text=True,
                          timeout=120)


@pytest.fixture
def staged(tmp_path) -> pathlib.Path:
    root = tmp_path / "root"
    out = install(root, "--bin-dir", str(bin_path()), PREFIX)
    assert out.returncode == 0, out.stdout + out.stderr
    return root


def unit_settings(path: pathlib.Path) -> list[tuple[str, str, str]]:
    """(section, key, value) of every assignment, in order (keys such as SystemCallFilter= repeat)."""
    settings, section = [], ""
    for line in path.read_text().splitlines():
        line = line.strip()
        if not line or line.startswith(("#", ";")):
            continue
        if line.startswith("["):
            section = line.strip("[]")
            continue
        key, _, value = line.partition("=")
        settings.append((section, key, value))
    return settings


def values(path: pathlib.Path, key: str) -> list[str]:
    return [v for _, k, v in unit_settings(path) if k == key]


def snapshot(root: pathlib.Path) -> dict:
    return {str(p.relative_to(root)): (stat.S_IMODE(p.stat().st_mode), hashlib.sha256(p.read_bytes()).hexdigest()
                                       if p.is_file() else None)
            for p in sorted(root.rglob("*"))}


def test_install_stages_binaries_units_and_settings_under_destdir(staged):
    for product in PRODUCTS:
        binary = staged / PREFIX.lstrip("/") / "bin" / product
        assert stat.S_IMODE(binary.stat().st_mode) == 0o755
    run = subprocess.run([str(staged / "opt/feedback-rpc/bin/feedbackd"), "--help"], capture_output=True, text=True)
    assert run.returncode == 0 and "--socket-mode" in run.stdout
    for unit in UNITS:
        installed = staged / "etc/systemd/system" / unit
        binary = unit.removesuffix(".service")
        assert values(installed, "ExecStart")[0].startswith(f"{PREFIX}/bin/{binary} ")
        assert "/usr/local" not in installed.read_text()
        # Only the paths differ from the file in the repository.
        original = (ROOT / "deploy/systemd" / unit).read_text()
        assert installed.read_text() == original.replace("/usr/local/", f"{PREFIX}/")
    socket_unit = staged / "etc/systemd/system" / SOCKET_UNIT
    assert socket_unit.read_text() == (ROOT / "deploy/systemd" / SOCKET_UNIT).read_text().replace("/usr/local/", f"{PREFIX}/")
    assert values(socket_unit, "ListenStream") == [SOCKET] and values(socket_unit, "SocketMode") == ["0660"]
    assert values(socket_unit, "SocketGroup") == ["feedback"] and values(socket_unit, "Service") == ["feedbackd.service"]
    assert (staged / "etc/sysusers.d/feedback-rpc.conf").read_bytes() == (ROOT / "deploy/systemd/feedback-rpc.conf").read_bytes()
    config = staged / "etc/feedback-rpc"
    assert stat.S_IMODE(config.stat().st_mode) == 0o750
    example = (ROOT / "deploy/systemd/feedback-rpc.env.example").read_bytes()
    for name in ("feedback-rpc.env", "feedback-rpc.env.example"):
        assert (config / name).read_bytes() == example
        assert stat.S_IMODE((config / name).stat().st_mode) == 0o640
    assert not (config / "jwt-secret").exists()  # the operator's to create
    assert (staged / "opt/feedback-rpc/share/doc/feedback-rpc/README.md").is_file()


def test_installed_binaries_are_stripped_unless_symbols_are_kept(staged, tmp_path):
    def has_symbols(binary: pathlib.Path) -> bool:
        sections = subprocess.run(["readelf", "-S", "-W", str(binary)], capture_output=True, text=True, check=True).stdout
        return ".symtab" in sections
    for product in PRODUCTS:
        installed = staged / PREFIX.lstrip("/") / "bin" / product
        assert not has_symbols(installed), product
        assert installed.stat().st_size < (bin_path() / product).stat().st_size
    kept = tmp_path / "kept"
    out = install(kept, "--bin-dir", str(bin_path()), "--keep-symbols", PREFIX)
    assert out.returncode == 0, out.stdout + out.stderr
    assert has_symbols(kept / PREFIX.lstrip("/") / "bin" / "feedbackd")


def test_a_second_install_changes_nothing_and_keeps_the_edited_settings(staged):
    settings = staged / "etc/feedback-rpc/feedback-rpc.env"
    settings.write_text("FEEDBACKD_STORE=--db /srv/chat/chat.db\nGATEWAY_LISTEN=127.0.0.1:9000\n")
    secret = staged / "etc/feedback-rpc/jwt-secret"
    secret.write_text(secrets.token_urlsafe(48))
    secret.chmod(0o644)
    before = snapshot(staged)
    out = install(staged, "--bin-dir", str(bin_path()), PREFIX)
    assert out.returncode == 0, out.stdout + out.stderr
    assert "feedback-rpc.env kept" in out.stdout
    assert "jwt-secret is mode 644: chmod 0600" in out.stdout  # told, not changed
    assert snapshot(staged) == before
    assert settings.read_text().startswith("FEEDBACKD_STORE=--db /srv/chat/chat.db\n")


def test_install_warns_about_binaries_that_load_the_toolchains_swift_runtime(tmp_path):
    linked = subprocess.run(["ldd", str(bin_path() / "feedbackd")], capture_output=True, text=True).stdout
    if "/usr/lib/swift/" not in linked:
        pytest.skip("these binaries carry their Swift runtime")
    out = install(tmp_path / "root", "--bin-dir", str(bin_path()), PREFIX)
    assert out.returncode == 0
    assert f"warning: {PREFIX}/bin/feedbackd loads " in out.stderr


def test_install_refuses_a_bad_prefix_or_missing_binaries_and_stages_nothing(tmp_path):
    for args in (["--bin-dir", str(bin_path()), "opt/relative"], ["--bin-dir", str(bin_path()), "/opt/with space"],
                 ["--bin-dir", str(bin_path()), "/opt/%n"], ["--bin-dir", str(tmp_path / "nothing-here"), PREFIX]):
        out = install(tmp_path / "root", *args)
        assert out.returncode != 0, args
        assert not (tmp_path / "root").exists(), args


@pytest.mark.parametrize("prefix", ["/opt/../etc", "/opt/feedback-rpc/..", "/../feedback-rpc", "/opt/../../escaped"])
def test_install_refuses_a_prefix_with_a_dot_dot_component_and_stages_nothing(tmp_path, prefix):
    # Under DESTDIR a ".." climbs out of the staging directory: /opt/../../escaped would land beside it.
    out = install(tmp_path / "stage" / "root", "--bin-dir", str(bin_path()), prefix)
    assert out.returncode == 2, out.stdout + out.stderr
    assert f"PREFIX must be an absolute path without a '..' component (got '{prefix}')" in out.stderr
    assert list(tmp_path.iterdir()) == [], "nothing staged, inside DESTDIR or beside it"


@pytest.mark.parametrize("variable", ["UNIT_DIR", "SYSUSERS_DIR"])
def test_install_refuses_a_unit_or_sysusers_dir_with_a_dot_dot_component(tmp_path, variable):
    env = {k: v for k, v in os.environ.items() if k not in ("BIN_DIR", "UNIT_DIR", "SYSUSERS_DIR")}
    env.update(DESTDIR=str(tmp_path / "stage" / "root"), **{variable: "/../../escaped"})
    out = subprocess.run([str(ROOT / "scripts" / "install.sh"), "--bin-dir", str(bin_path()), PREFIX], env=env,
                         capture_output=True, text=True, timeout=120)
    assert out.returncode == 2, out.stdout + out.stderr
    assert f"{variable} must be an absolute path without a '..' component" in out.stderr
    assert list(tmp_path.iterdir()) == []


def test_the_units_carry_the_settings_of_a_production_service(staged):
    feedbackd = staged / "etc/systemd/system/feedbackd.service"
    gateway = staged / "etc/systemd/system/feedback-gateway.service"
    for unit in (feedbackd, gateway):
        settings = {(k, v) for _, k, v in unit_settings(unit)}
        for required in [("User", "feedback"), ("Group", "feedback"), ("Type", "notify"), ("WatchdogSec", "30s"),
                         ("EnvironmentFile", "/etc/feedback-rpc/feedback-rpc.env"),
                         ("Restart", "on-failure"), ("KillSignal", "SIGTERM"), ("NoNewPrivileges", "yes"),
                         ("ProtectSystem", "strict"), ("ProtectHome", "yes"), ("PrivateTmp", "yes"),
                         ("CapabilityBoundingSet", ""), ("WantedBy", "multi-user.target")]:
            assert required in settings, (unit.name, required)
        # Long enough for the drain: a call is answered within 30 s, closing connections get 5 s more.
        assert int(values(unit, "TimeoutStopSec")[0].removesuffix("s")) >= 40
        assert f"--socket {SOCKET}" in values(unit, "ExecStart")[0]
    assert values(feedbackd, "RuntimeDirectory") == ["feedback"]
    assert values(feedbackd, "RuntimeDirectoryMode") == ["0750"]
    assert values(feedbackd, "RuntimeDirectoryPreserve") == ["yes"]
    assert values(feedbackd, "LoadCredential") == ["jwt-secret:/etc/feedback-rpc/jwt-secret"]
    assert values(feedbackd, "RestrictAddressFamilies") == ["AF_UNIX"]
    command = values(feedbackd, "ExecStart")[0]
    assert "--socket-mode 0660" in command and "--jwt-secret-file %d/jwt-secret" in command
    # The gateway holds no secret and leaves /run/feedback to feedbackd; it starts after feedbackd.
    assert values(gateway, "LoadCredential") == [] and values(gateway, "RuntimeDirectory") == []
    assert "feedbackd.service" in values(gateway, "Wants")[0].split()
    assert "feedbackd.service" in values(gateway, "After")[0].split()
    assert set("AF_UNIX AF_INET AF_INET6".split()) <= set(values(gateway, "RestrictAddressFamilies")[0].split())


def systemd_analyze_verify(root: pathlib.Path, *units: str) -> subprocess.CompletedProcess:
    """systemd-analyze verify on units inside `root` (--root: ExecStart's binaries are looked up there).
    The units' default dependencies (sysinit.target, ...) are the host's targets, copied in."""
    if not shutil.which("systemd-analyze"):
        pytest.skip("systemd-analyze is not installed (Debian: systemd)")
    system = root / "usr/lib/systemd/system"
    if not (system / "sysinit.target").exists():
        host = next(d for d in (pathlib.Path("/usr/lib/systemd/system"), pathlib.Path("/lib/systemd/system"))
                    if (d / "sysinit.target").exists())
        system.mkdir(parents=True, exist_ok=True)
        for target in host.glob("*.target"):
            shutil.copy(target, system / target.name)
    # ExecReload= runs the host's /bin/kill, which verify looks for inside the root.
    if not (root / "bin/kill").exists():
        (root / "bin").mkdir(exist_ok=True)
        shutil.copy("/bin/kill", root / "bin/kill")
    return subprocess.run(["systemd-analyze", "verify", f"--root={root}", "--recursive-errors=no", "--man=no",
                           *[f"/etc/systemd/system/{unit}" for unit in units]], capture_output=True, text=True, timeout=60)


def test_the_installed_units_pass_systemd_analyze_verify(staged):
    out = systemd_analyze_verify(staged, *UNITS, SOCKET_UNIT)
    # Unknown keys and unparsable values are only warnings to systemd: any output fails the test.
    assert out.returncode == 0 and out.stdout + out.stderr == "", out.stdout + out.stderr


@pytest.mark.parametrize("broken, expected", [
    (("ProtectSystem=strict", "ProtectSystem=strcit"), "Failed to parse protect system value"),
    (("NoNewPrivileges=yes", "NoNewPrivilege=yes"), "Unknown key 'NoNewPrivilege'"),
    (("TimeoutStopSec=45s", "TimeoutStopSec=45q"), "Failed to parse time value"),
    ((f"{PREFIX}/bin/feedbackd ", f"{PREFIX}/bin/feedbackd-missing "), "is not executable"),
])
def test_systemd_analyze_verify_catches_a_broken_unit(staged, broken, expected):
    """The check above can fail: the same verification of a unit with one mistake reports it."""
    unit = staged / "etc/systemd/system/feedbackd.service"
    text = unit.read_text()
    assert broken[0] in text
    unit.write_text(text.replace(broken[0], broken[1], 1))
    out = systemd_analyze_verify(staged, "feedbackd.service")
    assert out.returncode != 0 or out.stdout + out.stderr != ""
    assert expected in out.stdout + out.stderr


def test_the_drop_ins_the_readme_shows_pass_verify(staged):
    """README.md, "Production": the database's directory, PostgreSQL over TCP or --metrics-listen, public
    keys instead of the secret."""
    drop_ins = staged / "etc/systemd/system/feedbackd.service.d"
    drop_ins.mkdir()
    (drop_ins / "override.conf").write_text(f"""[Service]
ReadWritePaths=/var/lib/chat
RestrictAddressFamilies=AF_INET AF_INET6 AF_NETLINK
LoadCredential=
LoadCredential=jwks:/etc/feedback-rpc/jwks.json
LoadCredential=pg-password:/etc/feedback-rpc/pg-password
ExecStart=
ExecStart={PREFIX}/bin/feedbackd --socket /run/feedback/feedback.sock --socket-mode 0660 --jwt-jwks %d/jwks $FEEDBACKD_STORE $FEEDBACKD_ARGS
""")
    out = systemd_analyze_verify(staged, *UNITS)
    assert out.returncode == 0 and out.stdout + out.stderr == "", out.stdout + out.stderr


def test_the_sysusers_file_creates_the_feedback_user_and_group(staged, tmp_path):
    if not shutil.which("systemd-sysusers"):
        pytest.skip("systemd-sysusers is not installed (Debian: systemd)")
    system = tmp_path / "system"
    (system / "etc").mkdir(parents=True)
    for _ in range(2):  # idempotent
        out = subprocess.run(["systemd-sysusers", f"--root={system}", str(staged / "etc/sysusers.d/feedback-rpc.conf")],
                             capture_output=True, text=True, timeout=30)
        assert out.returncode == 0, out.stderr
    users = [line.split(":") for line in (system / "etc/passwd").read_text().splitlines()]
    groups = [line.split(":") for line in (system / "etc/group").read_text().splitlines()]
    assert len(users) == 1 and len(groups) == 1
    name, _, uid, gid, _, home, shell = users[0]
    assert (name, home, shell) == ("feedback", "/", "/usr/sbin/nologin")
    assert int(uid) < 1000 and groups[0][0] == "feedback" and groups[0][2] == gid


def settings_of(text: str) -> dict:
    """An EnvironmentFile as systemd reads the example: NAME=value lines, comments skipped."""
    settings = {}
    for line in text.splitlines():
        if line.strip() and not line.lstrip().startswith("#"):
            name, _, value = line.partition("=")
            settings[name.strip()] = value
    return settings


def test_every_flag_the_example_settings_give_is_one_the_binaries_accept():
    """The settings, commented-out alternatives included: a flag misspelt there would stop a service."""
    example = (ROOT / "deploy/systemd/feedback-rpc.env.example").read_text()
    helps = {prefix: subprocess.run([str(bin_path() / binary), "--help"], capture_output=True, text=True, check=True).stdout
             for prefix, binary in (("FEEDBACKD_", "feedbackd"), ("GATEWAY_", "feedback-gateway"))}
    flags = 0
    for name, value in re.findall(r"^#?((?:FEEDBACKD|GATEWAY)_\w+)=(.*)$", example, re.MULTILINE):
        for flag in re.findall(r"(?:^|\s)(--[a-z-]+)", value):
            assert re.search(rf"(?<![\w-]){flag}(?![\w-])", helps[name[:name.index("_") + 1]]), (name, flag)
            flags += 1
    assert flags >= 7


def command_line(unit: pathlib.Path, settings: dict, credentials: pathlib.Path) -> list[str]:
    """ExecStart= as systemd expands it: %d the credentials directory, ${NAME} one word, $NAME split at spaces."""
    argv = []
    for word in values(unit, "ExecStart")[0].split():
        word = word.replace("%d", str(credentials))
        if match := re.fullmatch(r"\$\{(\w+)\}", word):
            argv.append(settings.get(match[1], ""))
        elif match := re.fullmatch(r"\$(\w+)", word):
            argv.extend(settings.get(match[1], "").split())
        else:
            assert "$" not in word and "%" not in word, word
            argv.append(word)
    return argv


def test_the_units_command_lines_with_the_example_settings_run_a_working_pair(staged, tmp_path):
    """ExecStart of both units, expanded with the installed example settings (the database and the
    listen address pointed into tmp, the socket at a tmp path), starts feedbackd and the gateway; the
    gateway reaches feedbackd; SIGTERM stops both with status 0 and removes the socket."""
    credentials = tmp_path / "credentials"
    credentials.mkdir()
    secret = secrets.token_urlsafe(48)
    (credentials / "jwt-secret").write_text(secret)
    db = tmp_path / "chat.db"
    with sqlite3.connect(db) as conn:
        conn.execute("CREATE TABLE interactions (id INTEGER PRIMARY KEY, feedback INTEGER)")
        conn.execute("INSERT INTO interactions (id) VALUES (7)")
    settings = settings_of((staged / "etc/feedback-rpc/feedback-rpc.env").read_text())
    assert settings["FEEDBACKD_STORE"].startswith("--db ")
    port = free_port()
    settings["FEEDBACKD_STORE"] = f"--db {db}"
    settings["GATEWAY_LISTEN"] = f"127.0.0.1:{port}"
    socket_path = f"/tmp/fbdeploy-{secrets.token_hex(4)}.sock"
    units = staged / "etc/systemd/system"
    processes, logs = [], [tmp_path / f"{unit}.log" for unit in UNITS]
    try:
        for unit, log in zip(UNITS, logs):
            argv = [socket_path if word == SOCKET else word for word in command_line(units / unit, settings, credentials)]
            argv[0] = str(staged) + argv[0]  # the staged copy of PREFIX/bin/...
            with open(log, "w") as stderr:
                processes.append(subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=stderr))
            if unit == "feedbackd.service":
                assert wait_until(lambda: os.path.exists(socket_path) or processes[0].poll() is not None)
                assert processes[0].poll() is None, logs[0].read_text()
                # feedbackd sets the mode right after bind: wait for it, not for the file alone (a
                # busy machine showed the instant between the two).
                assert wait_until(lambda: stat.S_IMODE(os.stat(socket_path).st_mode) == 0o660 or processes[0].poll() is not None)
                assert stat.S_IMODE(os.stat(socket_path).st_mode) == 0o660
        feedbackctl = str(staged / "opt/feedback-rpc/bin/feedbackctl")
        health = subprocess.run([feedbackctl, "health", "--socket", socket_path], capture_output=True, text=True)
        assert health.returncode == 0, health.stdout + health.stderr

        def gateway_serving():
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=2) as response:
                    return response.status == 200
            except OSError:
                return processes[1].poll() is not None
        assert wait_until(gateway_serving) and processes[1].poll() is None, logs[1].read_text()
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=2) as response:
            assert response.read() == b'{"status":"SERVING"}'
        token = subprocess.run([feedbackctl, "token", "--secret-file", str(credentials / "jwt-secret"), "--sub", "deploy",
                                "--ttl", "600"], capture_output=True, text=True, check=True).stdout.strip()
        request = urllib.request.Request(f"http://127.0.0.1:{port}/feedback", method="POST",
                                         data=b'{"interaction_id": 7, "rating": -1}',
                                         headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"})
        with urllib.request.urlopen(request, timeout=120) as response:
            assert response.status == 204
        with sqlite3.connect(db) as conn:
            assert conn.execute("SELECT feedback FROM interactions WHERE id = 7").fetchone() == (-1,)
        # A production gateway serves no demo page (--no-demo-page), but the widget's script.
        with pytest.raises(urllib.error.HTTPError) as page:
            urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=120)
        assert page.value.code == 404
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/widget/feedback.js", timeout=120) as response:
            assert response.status == 200
        # systemd stops the gateway first (After=feedbackd.service), then feedbackd, each with SIGTERM.
        for process, log in reversed(list(zip(processes, logs))):
            process.send_signal(signal.SIGTERM)
            assert process.wait(timeout=120) == 0, log.read_text()
        assert not os.path.exists(socket_path)
    finally:
        for process in processes:
            if process.poll() is None:
                process.kill()
                process.wait()
        if os.path.exists(socket_path):
            os.unlink(socket_path)
