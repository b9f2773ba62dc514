#!/usr/bin/env python3
"""Static checks of the deployment files, for machines without a container engine.

    python3 deploy/check.py

Reads deploy/compose.yaml (with the values of deploy/.env.example), deploy/.env.example,
deploy/Dockerfile, .dockerignore and deploy/convene.service, and reports every problem found,
one line each, naming the file and the place. Exits 0 and prints "deploy files OK" when there
are none, 1 when there are, 2 when it cannot run at all (PyYAML missing).

Where the tools exist it also asks them: `docker compose config` for the compose file and
`systemd-analyze verify` for the unit. Each is skipped, with a message, when it is missing.
"""

from __future__ import annotations

import fnmatch
import ipaddress
import json
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

try:
    import yaml
except ImportError:
    print("deploy/check.py needs PyYAML: pip install pyyaml", file=sys.stderr)
    sys.exit(2)

DEPLOY = Path(__file__).resolve().parent
ROOT = DEPLOY.parent
COMPOSE = DEPLOY / "compose.yaml"
ENV_EXAMPLE = DEPLOY / ".env.example"
DOCKERFILE = DEPLOY / "Dockerfile"
UNIT = DEPLOY / "convene.service"
DOCKERIGNORE = ROOT / ".dockerignore"

# The services deploy/README.md and docs/operations.md describe.
REQUIRED_SERVICES = ["postgres", "mail", "web1", "web2", "worker", "proxy"]

# Settings that every Convene process of one deployment must share.
SHARED_SETTINGS = ["CONVENE_DATABASE_URL", "CONVENE_SECRET_KEY"]

problems: list[str] = []


def problem(path: Path, where: str, message: str) -> None:
    name = path.relative_to(ROOT) if path.is_relative_to(ROOT) else path
    problems.append(f"{name}: {where}: {message}" if where else f"{name}: {message}")


# --------------------------------------------------------------------------------------------
# Compose variable interpolation: ${VAR}, ${VAR:-default}, ${VAR-default}, ${VAR:?error},
# ${VAR?error}, ${VAR:+alternative}, ${VAR+alternative}, $VAR, and $$ for a literal dollar.

NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


class InterpolationError(Exception):
    pass


def interpolate(text: str, env: dict[str, str], used: set[str]) -> str:
    """Substitutes the variables of `text` from `env`, recording every name in `used`.
    Raises InterpolationError for a malformed reference or a required variable left unset."""
    out = []
    i = 0
    while i < len(text):
        c = text[i]
        if c != "$":
            out.append(c)
            i += 1
            continue
        if text.startswith("$$", i):
            out.append("$")
            i += 2
            continue
        if text.startswith("${", i):
            j = i + 2
            m = NAME.match(text, j)
            if not m:
                raise InterpolationError(f"malformed variable reference in {text!r}")
            name = m.group(0)
            used.add(name)
            j = m.end()
            # The rest up to the matching brace, which may hold nested references.
            depth, k = 1, j
            while k < len(text) and depth:
                if text.startswith("${", k):
                    depth += 1
                    k += 2
                    continue
                if text[k] == "}":
                    depth -= 1
                k += 1
            if depth:
                raise InterpolationError(f"unclosed ${{ in {text!r}")
            rest = text[j : k - 1]
            value = env.get(name)
            if rest == "":
                out.append(value or "")
            else:
                op = next((o for o in (":-", ":?", ":+", "-", "?", "+") if rest.startswith(o)), None)
                if op is None:
                    raise InterpolationError(f"malformed variable reference ${{{name}{rest}}}")
                arg = interpolate(rest[len(op) :], env, used)
                is_set, non_empty = value is not None, bool(value)
                present = non_empty if op.startswith(":") else is_set
                if op.endswith("-"):
                    out.append(value if present else arg)
                elif op.endswith("+"):
                    out.append(arg if present else "")
                else:
                    if not present:
                        raise InterpolationError(f"{name} is required: {arg or 'not set'}")
                    out.append(value)
            i = k
            continue
        m = NAME.match(text, i + 1)
        if m:
            used.add(m.group(0))
            out.append(env.get(m.group(0), ""))
            i = m.end()
            continue
        raise InterpolationError(f"a lone $ in {text!r} (write $$ for a dollar sign)")
    return "".join(out)


def interpolate_tree(node, env, used, path, errors):
    if isinstance(node, dict):
        return {
            interpolate_tree(k, env, used, path, errors): interpolate_tree(
                v, env, used, f"{path}.{k}" if path else str(k), errors
            )
            for k, v in node.items()
        }
    if isinstance(node, list):
        return [interpolate_tree(v, env, used, f"{path}[{n}]", errors) for n, v in enumerate(node)]
    if isinstance(node, str):
        try:
            return interpolate(node, env, used)
        except InterpolationError as e:
            errors.append((path, str(e)))
            return node
    return node


# --------------------------------------------------------------------------------------------
# deploy/.env.example


def read_env_example() -> dict[str, str]:
    env: dict[str, str] = {}
    if not ENV_EXAMPLE.is_file():
        problem(ENV_EXAMPLE, "", "missing")
        return env
    previous = ""
    for number, line in enumerate(ENV_EXAMPLE.read_text(encoding="utf-8").splitlines(), 1):
        stripped = line.strip()
        if not stripped:
            previous = ""
            continue
        if stripped.startswith("#"):
            previous = "comment"
            continue
        name, sep, value = line.partition("=")
        if not sep or not NAME.fullmatch(name):
            problem(ENV_EXAMPLE, f"line {number}", f"not a VARIABLE=value line: {line!r}")
            previous = ""
            continue
        if name in env:
            problem(ENV_EXAMPLE, f"line {number}", f"{name} is listed twice")
        if previous != "comment":
            problem(ENV_EXAMPLE, f"line {number}", f"{name} has no comment above it saying what it is")
        # Compose drops an inline comment that follows a space in an unquoted value.
        env[name] = re.sub(r"\s+#.*$", "", value).strip()
        previous = "variable"
    if not env:
        problem(ENV_EXAMPLE, "", "lists no variables")
    return env


# --------------------------------------------------------------------------------------------
# deploy/compose.yaml

TOP_LEVEL_KEYS = {"version", "name", "services", "networks", "volumes", "configs", "secrets", "include"}

SERVICE_KEYS = set(
    """annotations attach blkio_config build cap_add cap_drop cgroup cgroup_parent command
    configs container_name cpu_count cpu_percent cpu_period cpu_quota cpu_rt_period
    cpu_rt_runtime cpu_shares cpus cpuset credential_spec depends_on deploy develop
    device_cgroup_rules devices dns dns_opt dns_search domainname driver_opts entrypoint
    env_file environment expose extends external_links extra_hosts gpus group_add healthcheck
    hostname image init ipc isolation label_file labels links logging mac_address mem_limit
    mem_reservation mem_swappiness memswap_limit models network_mode networks oom_kill_disable
    oom_score_adj pid pids_limit platform ports post_start pre_stop privileged profiles
    provider pull_policy read_only restart runtime scale secrets security_opt shm_size
    stdin_open stop_grace_period stop_signal storage_opt sysctls tmpfs tty ulimits
    use_api_socket user userns_mode uts volumes volumes_from working_dir""".split()
)

DEPENDS_CONDITIONS = {"service_started", "service_healthy", "service_completed_successfully"}
RESTART_POLICIES = {"no", "always", "on-failure", "unless-stopped"}


def valid_port_range(text: str) -> bool:
    m = re.fullmatch(r"(\d+)(?:-(\d+))?", text)
    if not m:
        return False
    low = int(m.group(1))
    high = int(m.group(2) or low)
    return 1 <= low <= high <= 65535


def check_port(where: str, entry) -> None:
    if isinstance(entry, bool) or isinstance(entry, (int, float)):
        problem(
            COMPOSE,
            where,
            f"{entry!r}: write port mappings as quoted strings "
            "(YAML 1.1 reads an unquoted 80:80 as the base-60 number 4880)",
        )
        return
    if isinstance(entry, dict):
        target = entry.get("target")
        if not isinstance(target, int) or not 1 <= target <= 65535:
            problem(COMPOSE, where, f"target must be a port number, not {target!r}")
        published = entry.get("published")
        if published is not None and not valid_port_range(str(published)):
            problem(COMPOSE, where, f"published must be a port or port range, not {published!r}")
        if entry.get("protocol", "tcp") not in ("tcp", "udp", "sctp"):
            problem(COMPOSE, where, f"protocol must be tcp, udp or sctp, not {entry.get('protocol')!r}")
        host_ip = entry.get("host_ip")
        if host_ip is not None:
            try:
                ipaddress.ip_address(str(host_ip))
            except ValueError:
                problem(COMPOSE, where, f"host_ip {host_ip!r} is not an IP address")
        return
    if not isinstance(entry, str):
        problem(COMPOSE, where, f"a port must be a string or a mapping, not {entry!r}")
        return
    text, _, protocol = entry.partition("/")
    if protocol and protocol not in ("tcp", "udp", "sctp"):
        problem(COMPOSE, where, f"{entry!r}: protocol must be tcp, udp or sctp")
        return
    host_ip = None
    if text.startswith("["):
        address, sep, text = text[1:].partition("]:")
        if not sep:
            problem(COMPOSE, where, f"{entry!r}: an IPv6 address in brackets must be followed by :port")
            return
        host_ip = address
        parts = text.split(":")
        if len(parts) != 2:
            problem(COMPOSE, where, f"{entry!r}: expected [IPV6]:HOST_PORT:CONTAINER_PORT")
            return
        host, container = parts
    else:
        parts = text.split(":")
        if len(parts) == 1:
            host, container = "", parts[0]
        elif len(parts) == 2:
            host, container = parts
        elif len(parts) == 3:
            host_ip, host, container = parts
        else:
            problem(COMPOSE, where, f"{entry!r}: expected [[IP:]HOST_PORT:]CONTAINER_PORT[/PROTOCOL]")
            return
    if host_ip is not None:
        try:
            ipaddress.ip_address(host_ip)
        except ValueError:
            problem(COMPOSE, where, f"{entry!r}: {host_ip!r} is not an IP address")
    if host and not valid_port_range(host):
        problem(COMPOSE, where, f"{entry!r}: {host!r} is not a port (1-65535) or port range")
    if not valid_port_range(container):
        problem(COMPOSE, where, f"{entry!r}: {container!r} is not a port (1-65535) or port range")


def environment_of(service: dict) -> dict[str, str | None]:
    env = service.get("environment") or {}
    if isinstance(env, list):
        result: dict[str, str | None] = {}
        for item in env:
            name, sep, value = str(item).partition("=")
            result[name] = value if sep else None
        return result
    if isinstance(env, dict):
        return {str(k): (None if v is None else str(v)) for k, v in env.items()}
    return {}


def build_of(service: dict) -> tuple[Path | None, Path | None]:
    """The build context and Dockerfile of a service, as paths, when it builds locally."""
    build = service.get("build")
    if build is None:
        return None, None
    if isinstance(build, str):
        build = {"context": build}
    if not isinstance(build, dict):
        return None, None
    context = str(build.get("context", "."))
    if "://" in context or context.startswith("git@"):
        return None, None
    context_dir = (COMPOSE.parent / context).resolve()
    if "dockerfile_inline" in build:
        return context_dir, None
    return context_dir, (context_dir / str(build.get("dockerfile", "Dockerfile"))).resolve()


def check_compose(env: dict[str, str]) -> None:
    if not COMPOSE.is_file():
        problem(COMPOSE, "", "missing")
        return
    try:
        raw = yaml.safe_load(COMPOSE.read_text(encoding="utf-8"))
    except yaml.YAMLError as e:
        problem(COMPOSE, "", f"not valid YAML: {e}")
        return
    if not isinstance(raw, dict):
        problem(COMPOSE, "", "the file must be a mapping with a `services` key")
        return

    used: set[str] = set()
    errors: list[tuple[str, str]] = []
    doc = interpolate_tree(raw, env, used, "", errors)
    # A YAML anchor repeats one mistake in every service that merges it: report it once.
    seen: set[str] = set()
    for where, message in errors:
        if message not in seen:
            seen.add(message)
            problem(COMPOSE, where, message)
    for name in sorted(used - env.keys()):
        problem(COMPOSE, "", f"${{{name}}} is used but not listed in deploy/.env.example")
    for name in sorted(env.keys() - used):
        problem(ENV_EXAMPLE, "", f"{name} is listed but compose.yaml never uses it")

    for key in doc:
        if not (str(key) in TOP_LEVEL_KEYS or str(key).startswith("x-")):
            problem(COMPOSE, str(key), "not a top-level key of a compose file")

    services = doc.get("services")
    if not isinstance(services, dict) or not services:
        problem(COMPOSE, "services", "missing or empty")
        return
    for name in REQUIRED_SERVICES:
        if name not in services:
            problem(COMPOSE, "services", f"no `{name}` service")

    networks = doc.get("networks") or {}
    volumes = doc.get("volumes") or {}
    if not isinstance(networks, dict):
        problem(COMPOSE, "networks", "must be a mapping")
        networks = {}
    if not isinstance(volumes, dict):
        problem(COMPOSE, "volumes", "must be a mapping")
        volumes = {}

    healthy: dict[str, bool] = {}
    for name, service in services.items():
        if not isinstance(service, dict):
            continue
        check = service.get("healthcheck")
        if isinstance(check, dict):
            healthy[name] = not check.get("disable", False) and check.get("test") not in (["NONE"], "NONE")
        else:
            _, dockerfile = build_of(service)
            healthy[name] = bool(dockerfile and dockerfile.is_file() and has_healthcheck(dockerfile))

    convene_env: dict[str, dict[str, str | None]] = {}
    for name, service in services.items():
        where = f"services.{name}"
        if not isinstance(service, dict):
            problem(COMPOSE, where, "must be a mapping")
            continue
        for key in service:
            if not (str(key) in SERVICE_KEYS or str(key).startswith("x-")):
                problem(COMPOSE, f"{where}.{key}", "not a service attribute")
        if "image" not in service and "build" not in service:
            problem(COMPOSE, where, "has neither `image` nor `build`")
        if "build" in service:
            context, dockerfile = build_of(service)
            if context is not None and not context.is_dir():
                problem(COMPOSE, f"{where}.build.context", f"{context} is not a folder")
            elif dockerfile is not None and not dockerfile.is_file():
                problem(COMPOSE, f"{where}.build.dockerfile", f"{dockerfile} does not exist")
            if dockerfile is not None and dockerfile == DOCKERFILE.resolve():
                convene_env[name] = environment_of(service)
        if str(service.get("image", "")).split(":")[0].split("/")[-1] == "convene":
            convene_env[name] = environment_of(service)

        restart = service.get("restart")
        if restart is not None and not (
            restart in RESTART_POLICIES or re.fullmatch(r"on-failure:\d+", str(restart))
        ):
            problem(COMPOSE, f"{where}.restart", f"{restart!r} is not a restart policy")

        for n, entry in enumerate(service.get("ports") or []):
            check_port(f"{where}.ports[{n}]", entry)
        for n, entry in enumerate(service.get("expose") or []):
            if not valid_port_range(str(entry).partition("/")[0]):
                problem(COMPOSE, f"{where}.expose[{n}]", f"{entry!r} is not a port")

        depends = service.get("depends_on") or {}
        if isinstance(depends, list):
            depends = {d: {"condition": "service_started"} for d in depends}
        for other, spec in depends.items():
            if other not in services:
                problem(COMPOSE, f"{where}.depends_on", f"no service named `{other}`")
                continue
            condition = (spec or {}).get("condition", "service_started")
            if condition not in DEPENDS_CONDITIONS:
                problem(COMPOSE, f"{where}.depends_on.{other}", f"unknown condition {condition!r}")
            if condition == "service_healthy" and not healthy.get(other):
                problem(COMPOSE, f"{where}.depends_on.{other}", f"waits for `{other}` to be healthy, but it has no health check")

        service_networks = service.get("networks") or []
        for network in service_networks if isinstance(service_networks, list) else service_networks.keys():
            if network != "default" and network not in networks:
                problem(COMPOSE, f"{where}.networks", f"network `{network}` is not declared under top-level `networks`")

        for n, mount in enumerate(service.get("volumes") or []):
            mwhere = f"{where}.volumes[{n}]"
            if isinstance(mount, dict):
                source, kind = mount.get("source"), mount.get("type", "volume")
            elif isinstance(mount, str):
                source = mount.split(":")[0] if ":" in mount else None
                kind = "bind" if source and source[0] in "./~" else "volume"
            else:
                problem(COMPOSE, mwhere, f"not a volume: {mount!r}")
                continue
            if not source:
                continue
            if kind == "bind":
                if source.startswith("."):
                    if not (COMPOSE.parent / source).exists():
                        problem(COMPOSE, mwhere, f"bind mount source {source} does not exist beside compose.yaml")
            elif kind == "volume" and source not in volumes:
                problem(COMPOSE, mwhere, f"volume `{source}` is not declared under top-level `volumes`")

        check = service.get("healthcheck")
        if isinstance(check, dict) and "test" in check:
            test = check["test"]
            if isinstance(test, list) and (not test or test[0] not in ("CMD", "CMD-SHELL", "NONE")):
                problem(COMPOSE, f"{where}.healthcheck.test", "a list must start with CMD, CMD-SHELL or NONE")

    # One deployment, one database and one key: links mailed by one instance must open on the
    # others, and every instance must see the same registrations.
    for setting in SHARED_SETTINGS:
        values = {name: env_.get(setting) for name, env_ in convene_env.items()}
        if len(set(values.values())) > 1:
            listing = ", ".join(f"{n}={v!r}" for n, v in values.items())
            problem(COMPOSE, "services", f"{setting} differs between Convene services: {listing}")
        for name, value in values.items():
            if not value:
                problem(COMPOSE, f"services.{name}.environment", f"{setting} is not set")


# --------------------------------------------------------------------------------------------
# deploy/Dockerfile

INSTRUCTIONS = {
    "ADD", "ARG", "CMD", "COPY", "ENTRYPOINT", "ENV", "EXPOSE", "FROM", "HEALTHCHECK", "LABEL",
    "MAINTAINER", "ONBUILD", "RUN", "SHELL", "STOPSIGNAL", "USER", "VOLUME", "WORKDIR",
}
JSON_FORM = {"CMD", "ENTRYPOINT", "RUN", "SHELL", "VOLUME", "ADD", "COPY"}


def dockerfile_instructions(path: Path) -> list[tuple[int, str, str]]:
    """(line number, INSTRUCTION, arguments) for each instruction, continuations joined,
    comments dropped and here-documents skipped."""
    lines = path.read_text(encoding="utf-8").splitlines()
    escape = "\\"
    # Parser directives: `# name=value` lines before anything else.
    start = 0
    for start, line in enumerate(lines):
        m = re.fullmatch(r"\s*#\s*([A-Za-z]+)\s*=\s*(\S+)\s*", line)
        if not m:
            break
        if m.group(1).lower() == "escape":
            escape = m.group(2)
    result = []
    i = start
    while i < len(lines):
        line = lines[i]
        if not line.strip() or line.lstrip().startswith("#"):
            i += 1
            continue
        number = i + 1
        text = line
        while text.rstrip().endswith(escape) and i + 1 < len(lines):
            text = text.rstrip()[: -len(escape)]
            i += 1
            following = lines[i]
            if following.lstrip().startswith("#"):
                following = ""
            text += " " + following.strip()
        i += 1
        word, _, args = text.strip().partition(" ")
        instruction = word.upper()
        args = args.strip()
        heredocs = re.findall(r"<<-?[\"']?([A-Za-z_][A-Za-z0-9_]*)[\"']?", args) if instruction in ("RUN", "COPY", "ADD") else []
        for marker in heredocs:
            while i < len(lines) and lines[i].strip() != marker:
                i += 1
            i += 1
        result.append((number, instruction, args))
    return result


def has_healthcheck(path: Path) -> bool:
    try:
        instructions = dockerfile_instructions(path)
    except OSError:
        return False
    last_from = max((n for n, (_, ins, _) in enumerate(instructions) if ins == "FROM"), default=0)
    return any(
        ins == "HEALTHCHECK" and [w.upper() for w in split_flags(args)[1][:1]] == ["CMD"]
        for _, ins, args in instructions[last_from:]
    )


def split_flags(args: str) -> tuple[dict[str, str], list[str]]:
    flags: dict[str, str] = {}
    words = args.split()
    while words and words[0].startswith("--"):
        key, _, value = words.pop(0)[2:].partition("=")
        flags[key] = value
    return flags, words


def dockerignore_patterns() -> list[str]:
    if not DOCKERIGNORE.is_file():
        return []
    patterns = []
    for line in DOCKERIGNORE.read_text(encoding="utf-8").splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            patterns.append(line)
    return patterns


def ignored(source: str, patterns: list[str]) -> bool:
    if any(p.startswith("!") for p in patterns):
        return False  # exceptions make the answer depend on order; do not guess
    source = source.strip("/").removeprefix("./")
    for pattern in patterns:
        pattern = pattern.strip("/").removeprefix("./")
        if source == pattern or source.startswith(pattern + "/") or fnmatch.fnmatch(source, pattern):
            return True
    return False


def check_dockerignore() -> None:
    if not DOCKERIGNORE.is_file():
        problem(DOCKERIGNORE, "", "missing: the build would send target/ (gigabytes) to the builder")
        return
    patterns = [p.strip("/") for p in dockerignore_patterns()]
    for needed in ("target", "data", ".git"):
        if needed not in patterns:
            problem(DOCKERIGNORE, "", f"does not exclude {needed}/")


def check_dockerfile(context: Path) -> None:
    if not DOCKERFILE.is_file():
        problem(DOCKERFILE, "", "missing")
        return
    instructions = dockerfile_instructions(DOCKERFILE)
    if not instructions:
        problem(DOCKERFILE, "", "has no instructions")
        return
    patterns = dockerignore_patterns()
    stages: list[str | None] = []  # stage names, None for unnamed stages
    final: dict[str, tuple[int, str]] = {}  # USER/HEALTHCHECK/... of the current stage
    first = instructions[0]
    if first[1] not in ("FROM", "ARG"):
        problem(DOCKERFILE, f"line {first[0]}", f"the first instruction must be FROM (or ARG), not {first[1]}")

    for number, instruction, args in instructions:
        where = f"line {number}"
        if instruction not in INSTRUCTIONS:
            problem(DOCKERFILE, where, f"unknown instruction {instruction!r}")
            continue
        if not args:
            problem(DOCKERFILE, where, f"{instruction} without arguments")
            continue
        if instruction in JSON_FORM and args.startswith("[") or instruction == "SHELL":
            payload = args
            if instruction in ("ADD", "COPY"):
                payload = " ".join(split_flags(args)[1])
            try:
                parsed = json.loads(payload)
                if not isinstance(parsed, list) or not all(isinstance(x, str) for x in parsed):
                    raise ValueError
            except ValueError:
                problem(DOCKERFILE, where, f"{instruction} in JSON form must be a JSON array of strings")

        if instruction == "FROM":
            flags, words = split_flags(args)
            if len(words) not in (1, 3) or (len(words) == 3 and words[1].upper() != "AS"):
                problem(DOCKERFILE, where, "expected FROM [--platform=...] IMAGE [AS NAME]")
                stages.append(None)
            else:
                name = words[2].lower() if len(words) == 3 else None
                if name is not None:
                    if not re.fullmatch(r"[a-z][a-z0-9_.-]*", name):
                        problem(DOCKERFILE, where, f"stage name {name!r} is not valid")
                    if name in stages:
                        problem(DOCKERFILE, where, f"stage name {name!r} is used twice")
                stages.append(name)
            final = {}
        elif not stages:
            if instruction != "ARG":
                problem(DOCKERFILE, where, f"{instruction} before the first FROM")
            continue

        if instruction in ("COPY", "ADD"):
            flags, words = split_flags(args)
            earlier = stages[:-1]
            source_stage = flags.get("from")
            if source_stage is not None:
                if source_stage.isdigit():
                    if int(source_stage) >= len(earlier):
                        problem(DOCKERFILE, where, f"--from={source_stage} is not an earlier stage")
                elif source_stage.lower() not in earlier:
                    problem(DOCKERFILE, where, f"--from={source_stage} names no earlier stage")
            elif instruction == "COPY" and not args.startswith("[") and "<<" not in args:
                if len(words) < 2:
                    problem(DOCKERFILE, where, "COPY needs a source and a destination")
                for source in words[:-1]:
                    if any(ch in source for ch in "*?[$"):
                        continue
                    if not (context / source).exists():
                        problem(DOCKERFILE, where, f"COPY source {source} is not in the build context {context}")
                    elif source not in (".", "./") and ignored(source, patterns):
                        problem(DOCKERFILE, where, f"COPY source {source} is excluded by .dockerignore")

        if instruction == "EXPOSE":
            for port in args.split():
                number_part, _, protocol = port.partition("/")
                if "$" in port:
                    continue
                if not valid_port_range(number_part) or protocol not in ("", "tcp", "udp", "sctp"):
                    problem(DOCKERFILE, where, f"EXPOSE {port}: not PORT[/tcp|udp]")

        if instruction == "HEALTHCHECK":
            flags, words = split_flags(args)
            for key, value in flags.items():
                if key not in ("interval", "timeout", "start-period", "start-interval", "retries"):
                    problem(DOCKERFILE, where, f"HEALTHCHECK has no option --{key}")
                elif key == "retries" and not value.isdigit():
                    problem(DOCKERFILE, where, f"--retries={value} is not a number")
                elif key != "retries" and not re.fullmatch(r"(\d+(\.\d+)?(ns|us|ms|s|m|h))+", value):
                    problem(DOCKERFILE, where, f"--{key}={value} is not a duration such as 30s")
            if not words or words[0].upper() not in ("CMD", "NONE"):
                problem(DOCKERFILE, where, "HEALTHCHECK must be followed by CMD or NONE")
            else:
                rest = " ".join(words[1:])
                if rest.startswith("["):
                    try:
                        parsed = json.loads(rest)
                        if not isinstance(parsed, list) or not parsed:
                            raise ValueError
                    except ValueError:
                        problem(DOCKERFILE, where, "HEALTHCHECK CMD in JSON form must be a non-empty JSON array")
                final["HEALTHCHECK"] = (number, words[0].upper())

        if instruction in ("USER", "ENTRYPOINT", "CMD", "STOPSIGNAL"):
            final[instruction] = (number, args)

    if len(stages) < 2:
        problem(DOCKERFILE, "", f"has {len(stages)} stage(s): build and run in separate stages (two FROMs at least)")
    user = final.get("USER")
    if user is None:
        problem(DOCKERFILE, "final stage", "no USER: the service would run as root")
    else:
        name = user[1].split(":")[0].strip()
        if name in ("root", "0"):
            problem(DOCKERFILE, f"line {user[0]}", f"USER {user[1]} runs the service as root")
    health = final.get("HEALTHCHECK")
    if health is None:
        problem(DOCKERFILE, "final stage", "no HEALTHCHECK")
    elif health[1] == "NONE":
        problem(DOCKERFILE, f"line {health[0]}", "HEALTHCHECK NONE turns the health check off")


def build_context() -> Path:
    """The context compose builds deploy/Dockerfile with; the repository root otherwise."""
    try:
        doc = yaml.safe_load(COMPOSE.read_text(encoding="utf-8"))
        for service in (doc.get("services") or {}).values():
            context, dockerfile = build_of(service)
            if dockerfile == DOCKERFILE.resolve() and context is not None:
                return context
    except (OSError, yaml.YAMLError, AttributeError):
        pass
    return ROOT


# --------------------------------------------------------------------------------------------
# deploy/convene.service

TRUE = {"yes", "true", "on", "1"}

# key: (expected value, how to compare). "bool" means a true value; "exact" the same text;
# "set" the same space-separated words in any order; "contains" that word among them;
# "present" any value; "empty" an empty value (which resets the setting).
UNIT_SERVICE_KEYS = {
    "DynamicUser": ("yes", "bool"),
    "StateDirectory": ("convene", "exact"),
    "ProtectSystem": ("strict", "exact"),
    "ProtectHome": ("yes", "bool"),
    "PrivateTmp": ("yes", "bool"),
    "PrivateDevices": ("yes", "bool"),
    "NoNewPrivileges": ("yes", "bool"),
    "ProtectKernelTunables": ("yes", "bool"),
    "ProtectKernelModules": ("yes", "bool"),
    "ProtectKernelLogs": ("yes", "bool"),
    "ProtectControlGroups": ("yes", "bool"),
    "RestrictAddressFamilies": ("AF_INET AF_INET6 AF_UNIX", "set"),
    "RestrictNamespaces": ("yes", "bool"),
    "LockPersonality": ("yes", "bool"),
    "MemoryDenyWriteExecute": ("yes", "bool"),
    "SystemCallFilter": ("@system-service", "contains"),
    "SystemCallArchitectures": ("native", "exact"),
    "CapabilityBoundingSet": ("", "empty"),
    "UMask": ("0077", "exact"),
    "Restart": ("on-failure", "exact"),
    "KillSignal": ("SIGTERM", "exact"),
    "TimeoutStopSec": ("", "present"),
    "EnvironmentFile": ("-/etc/convene/convene.env", "exact"),
}


def read_unit(path: Path) -> dict[str, list[tuple[int, str, str]]]:
    sections: dict[str, list[tuple[int, str, str]]] = {}
    current = None
    lines = path.read_text(encoding="utf-8").splitlines()
    i = 0
    while i < len(lines):
        number, line = i + 1, lines[i].strip()
        i += 1
        if not line or line[0] in "#;":
            continue
        while line.endswith("\\") and i < len(lines):
            line = line[:-1] + " " + lines[i].strip()
            i += 1
        if line.startswith("["):
            if not line.endswith("]"):
                problem(path, f"line {number}", f"malformed section header {line!r}")
            current = line.strip("[]")
            sections.setdefault(current, [])
            continue
        key, sep, value = line.partition("=")
        if not sep:
            problem(path, f"line {number}", f"not a Key=value line: {line!r}")
            continue
        if current is None:
            problem(path, f"line {number}", "a setting before the first [Section]")
            continue
        sections[current].append((number, key.strip(), value.strip()))
    return sections


def seconds(text: str) -> float | None:
    units = {"": 1, "s": 1, "sec": 1, "min": 60, "m": 60, "h": 3600, "ms": 0.001}
    total = 0.0
    parts = re.findall(r"(\d+(?:\.\d+)?)\s*([a-z]*)", text)
    if not parts or re.sub(r"[\d.\sa-z]", "", text):
        return None
    for number, unit in parts:
        if unit not in units:
            return None
        total += float(number) * units[unit]
    return total


def check_unit() -> None:
    if not UNIT.is_file():
        problem(UNIT, "", "missing")
        return
    sections = read_unit(UNIT)
    for name in ("Unit", "Service", "Install"):
        if name not in sections:
            problem(UNIT, "", f"no [{name}] section")
    service = sections.get("Service", [])

    def values(key: str) -> list[tuple[int, str]]:
        return [(n, v) for n, k, v in service if k == key]

    for key, (expected, how) in UNIT_SERVICE_KEYS.items():
        found = values(key)
        if not found:
            problem(UNIT, "[Service]", f"{key}= is missing (expected {key}={expected})")
            continue
        number, value = found[-1]  # the last assignment wins
        where = f"line {number}"
        if how == "bool" and value.lower() not in TRUE:
            problem(UNIT, where, f"{key}={value}, expected {key}=yes")
        elif how == "exact" and value != expected:
            problem(UNIT, where, f"{key}={value}, expected {key}={expected}")
        elif how == "set" and set(value.split()) != set(expected.split()):
            problem(UNIT, where, f"{key}={value}, expected {key}={expected}")
        elif how == "contains" and expected not in " ".join(v for _, v in found).split():
            problem(UNIT, where, f"{key} does not include {expected}")
        elif how == "empty" and value:
            problem(UNIT, where, f"{key}={value}, expected it empty (no capabilities)")

    timeout = values("TimeoutStopSec")
    if timeout:
        number, value = timeout[-1]
        parsed = seconds(value)
        if parsed is None:
            problem(UNIT, f"line {number}", f"TimeoutStopSec={value} is not a time span")
        elif parsed <= 30:
            problem(UNIT, f"line {number}", "TimeoutStopSec must exceed the 30 s Convene may spend draining requests")

    environment = " ".join(v for _, v in values("Environment"))
    if "CONVENE_DATA_DIR=/var/lib/convene" not in environment.split():
        problem(UNIT, "[Service]", "Environment= does not set CONVENE_DATA_DIR=/var/lib/convene")
    exec_start = values("ExecStart")
    if not exec_start:
        problem(UNIT, "[Service]", "no ExecStart=")
    elif not re.search(r"(^|/)convene\s+serve(\s|$)", exec_start[-1][1]):
        problem(UNIT, f"line {exec_start[-1][0]}", "ExecStart= does not run `convene serve`")
    if not any(k == "WantedBy" for _, k, _ in sections.get("Install", [])):
        problem(UNIT, "[Install]", "no WantedBy=: `systemctl enable` would do nothing")


def verify_unit_with_systemd() -> None:
    tool = shutil.which("systemd-analyze")
    if tool is None:
        print("skipped: systemd-analyze verify (systemd-analyze is not installed)")
        return
    # verify wants the ExecStart binary to exist; swap in one that does.
    with tempfile.TemporaryDirectory() as folder:
        copy = Path(folder) / UNIT.name
        text = re.sub(r"^(ExecStart=)\S+", r"\g<1>/bin/true", UNIT.read_text(encoding="utf-8"), flags=re.M)
        copy.write_text(text, encoding="utf-8")
        run = subprocess.run(
            [tool, "verify", "--man=no", str(copy)], capture_output=True, text=True, timeout=60
        )
        # Only lines about the unit itself count: the host's own units may warn too.
        complaints = [line for line in (run.stderr + run.stdout).splitlines() if str(copy) in line]
        for line in complaints:
            problem(UNIT, "systemd-analyze verify", line.replace(str(copy), UNIT.name))
        if run.returncode != 0 and not complaints:
            print(f"note: systemd-analyze verify exited {run.returncode}: {run.stderr.strip()[:300]}")
        elif not complaints:
            print("checked: systemd-analyze verify")


# --------------------------------------------------------------------------------------------
# docker compose config, when the plugin is there


def compose_config() -> None:
    docker = shutil.which("docker")
    if docker is None:
        print("skipped: docker compose config (no docker command)")
        return
    try:
        version = subprocess.run([docker, "compose", "version"], capture_output=True, text=True, timeout=60)
    except (OSError, subprocess.TimeoutExpired) as e:
        print(f"skipped: docker compose config ({e})")
        return
    if version.returncode != 0:
        print("skipped: docker compose config (the docker compose plugin is not installed)")
        return
    run = subprocess.run(
        [docker, "compose", "-f", str(COMPOSE), "--env-file", str(ENV_EXAMPLE), "config", "-q"],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=120,
    )
    if run.returncode != 0:
        problem(COMPOSE, "docker compose config", (run.stderr or run.stdout).strip() or f"exit status {run.returncode}")
    else:
        print("checked: docker compose config")


def main() -> int:
    env = read_env_example()
    check_compose(env)
    check_dockerignore()
    check_dockerfile(build_context())
    check_unit()
    if UNIT.is_file():
        verify_unit_with_systemd()
    if COMPOSE.is_file():
        compose_config()
    if problems:
        for line in problems:
            print(line, file=sys.stderr)
        print(f"{len(problems)} problem(s) in the deploy files", file=sys.stderr)
        return 1
    print("deploy files OK")
    return 0


if __name__ == "__main__":
    sys.exit(main())
