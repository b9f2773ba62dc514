#!/usr/bin/env python3
"""What the deploy files must get right, checked without a container engine (CI has none):

    python3 deploy/check.py        # needs PyYAML; .ci/run runs it

compose.yaml against the Dockerfile, the Caddyfile, .env.example and the README; the Dockerfile
against Cargo.toml; the systemd unit against its settings example. `docker compose config` runs
too when the compose plugin is installed.
"""

import fnmatch
import json
import re
import shutil
import subprocess
import tomllib
import unittest
from pathlib import Path

import yaml

DEPLOY = Path(__file__).resolve().parent
ROOT = DEPLOY.parent
README = (ROOT / "README.md").read_text(encoding="utf-8")
COMMANDS = set(re.findall(r"(?m)^\| `convene ([a-z-]+)", README))  # its command table
SETTINGS = set(re.findall(r"`(CONVENE_[A-Z0-9_]+)`", README))
# Where the image and the systemd instructions (deploy/README.md) put the binary.
BINARY = "/usr/local/bin/convene"
DOCKER = shutil.which("docker")
COMPOSE_PLUGIN = DOCKER and subprocess.run([DOCKER, "compose", "version"], capture_output=True).returncode == 0


def read(name: str) -> str:
    return (DEPLOY / name).read_text(encoding="utf-8")


def env_file(name: str, commented_too: bool = False) -> dict[str, str]:
    """The VARIABLE=value lines of an env file (and the commented-out ones, if asked)."""
    return dict(re.findall(r"(?m)^%s([A-Z][A-Z0-9_]*)=(.*)$" % ("#?" if commented_too else ""), read(name)))


def dockerfile_stages() -> list[list[tuple[str, str]]]:
    """The stages of deploy/Dockerfile, each a list of (INSTRUCTION, arguments)."""
    lines = [line for line in read("Dockerfile").splitlines() if not line.lstrip().startswith("#")]
    stages: list[list[tuple[str, str]]] = []
    for instruction in re.sub(r"\\\n", " ", "\n".join(lines)).splitlines():
        word, _, args = instruction.strip().partition(" ")
        if word.upper() == "FROM":
            stages.append([])
        if word and stages:
            stages[-1].append((word.upper(), " ".join(args.split())))
    return stages


class Compose(unittest.TestCase):
    doc = yaml.safe_load(read("compose.yaml"))
    text = json.dumps(doc)  # the parsed file, without its comments
    convene = {name: s for name, s in doc["services"].items() if "build" in s}

    def test_convene_services_build_the_image_from_the_dockerfile(self):
        self.assertEqual(sorted(self.convene), ["web1", "web2", "worker"])
        for name, service in self.convene.items():
            context = (DEPLOY / service["build"]["context"]).resolve()
            dockerfile = context / service["build"]["dockerfile"]
            self.assertEqual((context, dockerfile), (ROOT, DEPLOY / "Dockerfile"), name)

    def test_each_runs_a_command_the_binary_has(self):
        for name, service in self.convene.items():
            self.assertIn(service["command"][0], COMMANDS, name)

    def test_every_instance_shares_one_database_and_one_key(self):
        for setting in ("CONVENE_DATABASE_URL", "CONVENE_SECRET_KEY"):
            values = {s["environment"].get(setting) for s in self.convene.values()}
            self.assertEqual(len(values), 1, f"{setting} differs: {values}")
            self.assertTrue(values.pop(), f"{setting} is not set")

    def test_the_proxy_sends_traffic_to_every_web_instance(self):
        upstreams = re.search(r"(?m)^\s*reverse_proxy ([^{\n]*)", read("Caddyfile"))[1].split()
        for name, service in self.convene.items():
            if service["command"] == ["serve"]:
                self.assertIn(f"{name}:8080", upstreams)

    def test_env_example_lists_exactly_what_compose_reads(self):
        listed = env_file(".env.example")
        self.assertEqual(set(re.findall(r"\$\{([A-Za-z_]\w*)", self.text)), set(listed))
        for name in re.findall(r"\$\{([A-Za-z_]\w*):\?", self.text):
            self.assertTrue(listed[name], f"{name} is required but empty in .env.example")

    def test_every_setting_is_one_convene_reads(self):
        names = {k for s in self.convene.values() for k in s["environment"]}
        names |= set(env_file("convene.env.example", commented_too=True))
        for name in sorted(n for n in names if n.startswith("CONVENE_")):
            self.assertIn(name, SETTINGS, "not a setting the README names")

    @unittest.skipUnless(COMPOSE_PLUGIN, "the docker compose plugin is not installed")
    def test_docker_compose_accepts_it(self):
        files = ["-f", DEPLOY / "compose.yaml", "--env-file", DEPLOY / ".env.example"]
        run = subprocess.run([DOCKER, "compose", *files, "config", "-q"], capture_output=True, text=True)
        self.assertEqual(run.returncode, 0, run.stderr)


class Dockerfile(unittest.TestCase):
    stages = dockerfile_stages()
    final = dict(stages[-1])

    def test_it_builds_the_convene_binary_from_the_sources(self):
        bins = tomllib.loads((ROOT / "Cargo.toml").read_text(encoding="utf-8"))["bin"]
        self.assertEqual([b["name"] for b in bins], ["convene"])
        build = self.stages[0]
        self.assertIn(("COPY", ". ."), build)
        after_copy = build[build.index(("COPY", ". .")) :]
        runs = " ".join(args for word, args in after_copy if word == "RUN")
        self.assertIn("cargo build --release --locked", runs)
        self.assertRegex(runs, r"install .*target/release/convene /out/convene")

    def test_the_build_context_keeps_what_the_build_needs(self):
        ignored = read("../.dockerignore").split()
        for needed in ("Cargo.toml", "Cargo.lock", "src", "migrations", "web"):
            self.assertFalse([p for p in ignored if fnmatch.fnmatch(needed, p.rstrip("/"))], needed)

    def test_the_image_runs_convene(self):
        self.assertIn(("COPY", f"--from=build /out/convene {BINARY}"), self.stages[-1])
        self.assertEqual(self.final["ENTRYPOINT"], f'["{BINARY}"]')
        self.assertEqual(self.final["CMD"], '["serve"]')
        self.assertIn(f'CMD ["{BINARY}", "healthcheck"]', self.final["HEALTHCHECK"])
        self.assertIn("CONVENE_BIND=0.0.0.0:8080", self.final["ENV"])
        self.assertNotIn(self.final["USER"].split(":")[0], ("root", "0"))


class SystemdUnit(unittest.TestCase):
    unit = read("convene.service")

    def test_it_runs_convene_serve_with_the_example_settings(self):
        self.assertRegex(self.unit, rf"(?m)^ExecStart={BINARY} serve$")
        self.assertIn("installed as /etc/convene/convene.env", read("convene.env.example"))
        self.assertRegex(self.unit, r"(?m)^EnvironmentFile=-/etc/convene/convene.env$")
        # More than the 30 s Convene may spend draining requests on SIGTERM.
        self.assertGreater(int(re.search(r"(?m)^TimeoutStopSec=(\d+)$", self.unit)[1]), 30)


if __name__ == "__main__":
    unittest.main(verbosity=2)
