"""The Docker image runs what a bootstrapped checkout runs: every system package
scripts/services.sh installs for the runtime is installed by docker/Dockerfile too, and the
image ships the compiled translations."""

import re
import shlex
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def services_runtime_packages() -> set[str]:
    """The RUNTIME_PACKAGES=( ... ) array of scripts/services.sh."""
    text = (ROOT / "scripts" / "services.sh").read_text()
    match = re.search(r"^RUNTIME_PACKAGES=\((.*?)\)", text, re.MULTILINE | re.DOTALL)
    assert match, "scripts/services.sh must list its runtime packages in RUNTIME_PACKAGES=( ... )"
    words = shlex.split(match.group(1), comments=True)
    assert words, "RUNTIME_PACKAGES is empty"
    return set(words)


def dockerfile_apt_packages() -> set[str]:
    """Every package an `apt-get install` of a RUN instruction names (options skipped)."""
    text = (ROOT / "docker" / "Dockerfile").read_text()
    # Join continued lines and drop comment lines, as Docker does before running them.
    lines = [line for line in text.splitlines() if not line.lstrip().startswith("#")]
    joined = re.sub(r"\\\n", " ", "\n".join(lines))
    packages: set[str] = set()
    for instruction in joined.splitlines():
        if not instruction.startswith("RUN "):
            continue
        for command in re.split(r"&&|\|\|", instruction[4:]):
            if "apt-get install" not in command:
                continue
            words = shlex.split(command)
            if words[:2] == ["apt-get", "install"]:
                packages.update(w for w in words[2:] if not w.startswith("-"))
    return packages


def test_the_image_installs_every_runtime_package_of_services_sh() -> None:
    runtime = services_runtime_packages()
    assert {"libpango-1.0-0", "libpangoft2-1.0-0", "fonts-dejavu-core"} <= runtime  # WeasyPrint's
    missing = runtime - dockerfile_apt_packages()
    assert not missing, f"docker/Dockerfile does not install {sorted(missing)}"


def test_the_servers_services_sh_installs_are_compose_services() -> None:
    """PostgreSQL and Redis, which services.sh installs for a checkout, come as images of
    their own in docker/compose.yaml rather than inside the application image."""
    import yaml

    text = (ROOT / "scripts" / "services.sh").read_text()
    assert "pkgs+=(postgresql postgresql-contrib)" in text and "pkgs+=(redis-server)" in text
    images = {
        s.get("image", "").split(":")[0]
        for s in yaml.safe_load((ROOT / "docker" / "compose.yaml").read_text())["services"].values()
    }
    assert {"postgres", "redis"} <= images


def test_services_sh_installs_its_runtime_list() -> None:
    """The list the parity test reads is the one services.sh installs from."""
    text = (ROOT / "scripts" / "services.sh").read_text()
    assert 'pkgs+=("${RUNTIME_PACKAGES[@]}")' in text


def test_the_image_ships_the_compiled_translations() -> None:
    dockerfile = (ROOT / "docker" / "Dockerfile").read_text()
    assert re.search(r"^COPY \. \.$", dockerfile, re.MULTILINE), "the image copies the checkout (locale/)"
    ignore = ROOT / ".dockerignore"
    if ignore.exists():
        patterns = ignore.read_text().split()
        assert not any(p.strip("/").startswith(("locale", "*.mo")) for p in patterns)
    assert "LC_MESSAGES" in dockerfile  # the build fails without a compiled catalog
    for po in (ROOT / "locale").glob("*/LC_MESSAGES/django.po"):
        assert po.with_suffix(".mo").is_file()


def test_compose_keeps_photos_and_exports_on_named_volumes() -> None:
    """Every application service writes residents' photos and tenant exports to a named
    volume mounted where its settings point, so they survive a rebuilt container; and the
    image makes those folders its user's, which a new volume inherits."""
    import yaml

    compose = yaml.safe_load((ROOT / "docker" / "compose.yaml").read_text())
    app_services = {name: s for name, s in compose["services"].items() if "build" in s}
    assert {"web", "worker-io"} <= app_services.keys()
    for name, service in app_services.items():
        env = service["environment"]
        mounts = dict(reversed(m.split(":")[:2]) for m in service.get("volumes", []))
        for setting in ("MEDIA_ROOT", "TENANT_EXPORT_ROOT"):
            assert mounts.get(env[setting]) in compose["volumes"], (name, setting)
    dockerfile = (ROOT / "docker" / "Dockerfile").read_text()
    assert "chown civicpulse:civicpulse /app/media /app/exports" in dockerfile
