"""Drift check: what the course text says must match the real repository.

It checks, page by page:
- every `make <target>` is a target that `make help` lists;
- every repository path (apps/..., lessons/..., pod.yaml, ...) exists;
- every `kubectl apply -f FILE` names a manifest under lessons/ that the manifest tests validate;
- every image name and tag, and every port, matches ARCHITECTURE.md;
- every {{#include FILE:ANCHOR}} file exists and has that anchor (or those lines);
- every `--context` is kind-kube-course, and every kubectl command gives it;
- every kind `--name` is kube-course.

Run it on its own:  .venv/bin/python tests/book/drift.py [FILE.md ...]
"""

from __future__ import annotations

import re
import shlex
import subprocess
import sys
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

if __name__ == "__main__":
    # Run on its own, Python finds only tests/book. The manifest list (tests/manifests/kube_files.py)
    # needs tests/ (testkit) and tests/manifests; under pytest, pytest.ini puts both on the path.
    TESTS = Path(__file__).resolve().parent.parent
    sys.path[1:1] = [str(TESTS), str(TESTS / "manifests")]

from mdblocks import inline_code, page_files, read_blocks  # noqa: E402
from style import Finding  # noqa: E402

SHELL_LANGS = {"bash", "sh", "shell", "console", "zsh", "shell-session"}
TOP_LEVEL = {"apps", "images", "lessons", "clusters", "make", "scripts", "tests", "bench",
             ".ci", ".github", "target"}
FILE_NAME = re.compile(r"^[\w.-]+\.(ya?ml|toml|rs|mk|sh|md|json|conf)$|^(Makefile|Dockerfile)$")
REPO_PATH = re.compile(r"^\.{0,2}/?[\w.-]+(/[\w.-]+)+/?$")
INCLUDE = re.compile(r"\{\{#(include|rustdoc_include)\s+([^}\s]+)\s*\}\}")
# The course's own images and containers (kind's local-path-provisioner is not one of them).
IMAGE = re.compile(r"(?<![\w/-])(local-(?!path-)[a-z0-9]+(?:-[a-z0-9]+)*)(?::(\w(?:[\w.-]*\w)?))?(?![\w-])")
PUBLISH = re.compile(r"(?:^|\s)(?:-p|--publish)[ =](?:[\d.]+:)?(\d+):(\d+)")
# Plain http on the laptop: the apps, the book, forwarded ports and kind's hostPorts.
LOCAL_URL = re.compile(r"http://(?:localhost|127\.0\.0\.1|\[::1\]):(\d+)")
API_VERSION = re.compile(r"^[\w.-]+/v\d+((alpha|beta)\d+)?$")
SERVICE_PORT = re.compile(r"(?<![\w.-])(echo|relay)(\.my-space(?:\.svc(?:\.cluster\.local)?)?)?:(\d+)\b")
PORT_FORWARD = re.compile(r"port-forward\s+(?:--?[\w-]+[ =]\S+\s+)*\S+\s+((?:\d*:?\d+\s*)+)")


@dataclass
class Contract:
    """The names the text must use, read from ARCHITECTURE.md and the Makefile."""

    repo: Path
    make_targets: set[str]
    images: dict[str, str]  # name -> tag
    context: str = "kind-kube-course"
    cluster: str = "kube-course"
    app_port: int = 8080
    published: set[int] = field(default_factory=lambda: {8081, 8082})
    book_port: int = 3000
    host_ports: set[int] = field(default_factory=set)  # kind's extraPortMappings
    manifests: set[Path] | None = None  # the files tests/manifests validates
    namespaces: set[str] = field(default_factory=lambda: {
        "my-space", "kube-system", "kube-public", "kube-node-lease", "default",
        "local-path-storage"})


def make_targets(repo: Path) -> set[str]:
    """The targets that `make help` lists: the ones a learner may run."""
    out = subprocess.run(["make", "--no-print-directory", "-s", "help"], cwd=repo,
                         capture_output=True, text=True, check=True).stdout
    return {m.group(1) for m in re.finditer(r"^\s+([\w-]+)\s", out, re.MULTILINE)}


def validated_manifests() -> set[Path] | None:
    """The manifest files that tests/manifests checks, from its own list."""
    try:
        from kube_files import manifest_files
    except ImportError:
        return None
    return {p.resolve() for p in manifest_files()}


def contract_from_repo(repo: Path) -> Contract:
    arch = (repo / "ARCHITECTURE.md").read_text(encoding="utf-8")
    images = dict(re.findall(r"`(local-[a-z0-9-]+):([\w.-]+)`", arch))
    context = re.search(r"kubectl context \| `([\w-]+)`", arch)
    cluster = re.search(r"kind cluster name \| `([\w-]+)`", arch)
    app_port = re.search(r"app port [^|]*\| `(\d+)`", arch)
    published = {int(p) for p in re.findall(r"`make run-\w+` publishes \| `(\d+)`", arch)}
    host_ports = {int(p) for f in sorted((repo / "clusters").glob("*.yaml"))
                  for p in re.findall(r"hostPort:\s*(\d+)", f.read_text(encoding="utf-8"))}
    return Contract(repo=repo, make_targets=make_targets(repo), images=images, host_ports=host_ports,
                    manifests=validated_manifests(), published=published or {8081, 8082},
                    app_port=int(app_port.group(1)) if app_port else 8080,
                    context=context.group(1) if context else "kind-kube-course",
                    cluster=cluster.group(1) if cluster else "kube-course")


@dataclass
class Counts:
    """How many things the check verified, for the report."""

    seen: Counter = field(default_factory=Counter)

    def add(self, what: str, n: int = 1) -> None:
        self.seen[what] += n


def shell_commands(code: str, lang: str) -> list[tuple[int, str]]:
    """Commands in a shell code block, with the line offset; continuation lines are joined."""
    commands: list[tuple[int, str]] = []
    pending = ""
    start = 0
    for offset, line in enumerate(code.splitlines()):
        text = line.strip()
        if lang == "console":
            if not pending:
                if not text.startswith("$ "):
                    continue
                text = text[2:]
        elif not pending and (not text or text.startswith("#")):
            continue
        if not pending:
            start = offset
        if text.endswith("\\"):
            pending += text[:-1] + " "
            continue
        commands.append((start, pending + text))
        pending = ""
    if pending:
        commands.append((start, pending))
    return commands


KUBECTL_VALUE_OPTIONS = {"--context", "-n", "--namespace", "-l", "--selector", "-o", "--output",
                         "-c", "--container", "--kubeconfig", "-f", "--filename", "-k"}


def kubectl_subcommand(words: list[str]) -> list[str]:
    """The words of a kubectl command that are not options or option values."""
    out: list[str] = []
    skip = False
    for w in words[1:]:
        if skip:
            skip = False
        elif w == "--":
            break
        elif w in KUBECTL_VALUE_OPTIONS:
            skip = True
        elif not w.startswith("-"):
            out.append(w)
    return out


def split_words(command: str) -> list[str]:
    try:
        return shlex.split(command, comments=True)
    except ValueError:
        return command.split()


class PageCheck:
    def __init__(self, page: Path, contract: Contract, counts: Counts):
        self.page = page
        self.c = contract
        self.counts = counts
        self.findings: list[Finding] = []
        try:
            self.name = str(page.relative_to(contract.repo))
        except ValueError:
            self.name = str(page)
        self.forwarded: set[int] = set()

    def fail(self, line: int, message: str) -> None:
        self.findings.append(Finding(self.name, line, message))

    # --- one kind of thing at a time ---------------------------------------------

    def check_make(self, line: int, words: list[str]) -> None:
        targets = [w for w in words[1:] if not w.startswith("-") and "=" not in w]
        for t in targets[:1] if words[:1] == ["make"] else []:
            self.counts.add("make targets")
            if t not in self.c.make_targets:
                self.fail(line, f'"make {t}": the Makefile has no target "{t}" '
                                "(see make help)")

    def check_path(self, line: int, token: str, *, must: bool = False) -> None:
        token = token.rstrip(".,:;)")
        if token.startswith(("http://", "https://", "/", "~", "$")) or "*" in token \
                or API_VERSION.match(token):
            return
        first = token.lstrip("./").split("/")[0]
        looks_like_repo = REPO_PATH.match(token) and (first in TOP_LEVEL or token.startswith(("./", "../")))
        if not (must or looks_like_repo or FILE_NAME.match(token)):
            return
        self.counts.add("file paths")
        candidates = [self.c.repo / token, self.page.parent / token]
        if not any(p.exists() for p in candidates):
            self.fail(line, f'the path "{token}" does not exist in the repository')

    def check_apply(self, line: int, words: list[str]) -> None:
        for i, w in enumerate(words):
            if w in ("-f", "--filename") and i + 1 < len(words):
                path = words[i + 1]
            elif w.startswith(("-f=", "--filename=")):
                path = w.split("=", 1)[1]
            else:
                continue
            self.counts.add("manifests (kubectl -f/-k)")
            full = self.c.repo / path
            rel = full.resolve().relative_to(self.c.repo.resolve()) if full.exists() else None
            if rel is None or not full.is_file():
                self.fail(line, f'"kubectl ... -f {path}": there is no such file '
                                "(paths start at the top folder of the repository)")
            elif rel.parts[0] != "lessons" or full.suffix not in (".yaml", ".yml") or (
                    self.c.manifests is not None and full.resolve() not in self.c.manifests):
                self.fail(line, f'"kubectl ... -f {path}": apply only manifests under lessons/, '
                                "which tests/manifests checks")
        for i, w in enumerate(words):
            if w in ("-k", "--kustomize") and i + 1 < len(words):
                self.counts.add("manifests (kubectl -f/-k)")
                if not (self.c.repo / words[i + 1] / "kustomization.yaml").is_file():
                    self.fail(line, f'"kubectl ... -k {words[i + 1]}": no kustomization.yaml there')

    def check_kubectl(self, line: int, words: list[str], *, inline: bool = False) -> None:
        self.counts.add("kubectl commands")
        contexts = [words[i + 1] for i, w in enumerate(words[:-1]) if w == "--context"]
        contexts += [w.split("=", 1)[1] for w in words if w.startswith("--context=")]
        for ctx in contexts:
            if ctx != self.c.context:
                self.fail(line, f'the context is "{ctx}": always use --context {self.c.context}')
        sub = kubectl_subcommand(words)
        needs_context = sub[:1] not in (["config"], ["version"], ["help"], ["completion"]) \
            and "--help" not in words and "--client" not in words
        if needs_context and not contexts and not inline:
            self.fail(line, f'kubectl without --context: write "kubectl --context {self.c.context} ..."')
        for i, w in enumerate(words[:-1]):
            if w in ("-n", "--namespace") and words[i + 1] not in self.c.namespaces:
                self.fail(line, f'the namespace "{words[i + 1]}" is not one the course uses '
                                f"({', '.join(sorted(self.c.namespaces))})")
        if "port-forward" in words:
            for spec in PORT_FORWARD.findall(" ".join(words)):
                for pair in spec.split():
                    self.forwarded.add(int(pair.split(":")[0]))
        if sub[:1] in (["apply"], ["create"], ["replace"], ["delete"], ["diff"]):
            self.check_apply(line, words)

    def check_kind(self, line: int, words: list[str]) -> None:
        for i, w in enumerate(words[:-1]):
            if w == "--name" and words[i + 1] != self.c.cluster:
                self.fail(line, f'the kind cluster is "{words[i + 1]}": it is called {self.c.cluster}')
        for w in words:
            if w.startswith("--name=") and w.split("=", 1)[1] != self.c.cluster:
                self.fail(line, f'the kind cluster is "{w.split("=", 1)[1]}": it is called {self.c.cluster}')

    def check_command(self, line: int, command: str, *, inline: bool = False) -> None:
        for part in re.split(r"\s*(?:&&|\|\||;|\|)\s*", command):
            words = split_words(part)
            while words and "=" in words[0] and not words[0].startswith("-"):
                words = words[1:]  # VAR=value before the command
            if words[:1] == ["sudo"]:
                words = words[1:]
            if not words:
                continue
            if words[0] == "make":
                self.check_make(line, words)
            elif words[0] == "kubectl":
                self.check_kubectl(line, words, inline=inline)
            elif words[0] == "kind":
                self.check_kind(line, words)
            elif words[0] == "docker" and ("exec" in words or "cp" in words):
                pass
            for w in words[1:]:
                if not w.startswith("-") and words[0] != "kubectl":
                    self.check_path(line, w.split("=", 1)[-1])

    def check_names(self, line: int, text: str) -> None:
        """Image names, published ports, Service ports and local URLs in any text."""
        for m in IMAGE.finditer(text):
            name, tag = m.group(1), m.group(2)
            self.counts.add("image names")
            if name not in self.c.images:
                self.fail(line, f'the image "{name}" is not one of {", ".join(sorted(self.c.images))}')
            elif tag is not None and tag.isdigit():  # a container name used as a host
                self.counts.add("ports")
                if int(tag) != self.c.app_port:
                    self.fail(line, f'"{name}:{tag}": the apps listen on port {self.c.app_port}')
            elif tag is not None and tag != self.c.images[name]:
                self.fail(line, f'"{name}:{tag}": the tag is {self.c.images[name]} (ARCHITECTURE.md)')
        for outside, inside in PUBLISH.findall(text):
            self.counts.add("ports")
            if int(inside) != self.c.app_port:
                self.fail(line, f"the apps listen on port {self.c.app_port}, not {inside}")
            if int(outside) not in self.c.published:
                self.fail(line, f"make run-echo and run-relay publish ports 8081 and 8082, not {outside}")
        for _, _, port in SERVICE_PORT.findall(text):
            self.counts.add("ports")
            if int(port) != self.c.app_port:
                self.fail(line, f"the Services echo and relay listen on port {self.c.app_port}, not {port}")

    def check_local_urls(self, line: int, text: str) -> None:
        allowed = self.c.published | {self.c.book_port} | self.c.host_ports | self.forwarded
        for port in LOCAL_URL.findall(text):
            self.counts.add("ports")
            if int(port) not in allowed:
                self.fail(line, f"nothing listens on port {port} in the course: "
                                f"use 8081 (echo), 8082 (relay) or a port you forward")

    def check_include(self, line: int, target: str) -> None:
        self.counts.add("includes")
        file_part, _, selector = target.partition(":")
        path = self.page.parent / file_part
        if not path.is_file():
            self.fail(line, f'{{{{#include {target}}}}}: the file "{file_part}" does not exist')
            return
        if not selector:
            return
        text = path.read_text(encoding="utf-8", errors="replace")
        if re.fullmatch(r"\d*(:\d*)?", selector):
            numbers = [int(n) for n in selector.split(":") if n]
            if numbers and max(numbers) > len(text.splitlines()):
                self.fail(line, f'{{{{#include {target}}}}}: "{file_part}" has only '
                                f"{len(text.splitlines())} lines")
            return
        self.counts.add("anchors")
        if not re.search(rf"ANCHOR:\s*{re.escape(selector)}(?![\w-])", text):
            self.fail(line, f'{{{{#include {target}}}}}: "{file_part}" has no "ANCHOR: {selector}"')
        elif not re.search(rf"ANCHOR_END:\s*{re.escape(selector)}(?![\w-])", text):
            self.fail(line, f'{{{{#include {target}}}}}: "{file_part}" has no "ANCHOR_END: {selector}"')

    # --- the page ------------------------------------------------------------------

    def run(self, text: str) -> list[Finding]:
        blocks = read_blocks(text)
        # First pass: commands, so that forwarded ports are known before URLs are checked.
        for block in blocks:
            if block.kind == "code" and block.lang in SHELL_LANGS:
                for offset, command in shell_commands(block.text, block.lang):
                    self.check_command(block.line + 1 + offset, command)
            elif block.kind != "code":
                for offset, raw in enumerate(block.lines):
                    for code in inline_code(raw):
                        if code.split()[:1] in (["make"], ["kubectl"], ["kind"]):
                            self.check_command(block.line + offset, code, inline=True)
                        elif " " not in code:
                            self.check_path(block.line + offset, code)
                    for link in re.findall(r"\]\(([^)#\s]+)(?:#[^)]*)?\)", raw):
                        if not link.startswith(("http://", "https://", "mailto:")):
                            self.check_path(block.line + offset, link, must=True)
        for block in blocks:
            first = block.line + 1 if block.kind == "code" else block.line
            for offset, raw in enumerate(block.lines):
                self.check_names(first + offset, raw)
                self.check_local_urls(first + offset, raw)
                for m in INCLUDE.finditer(raw):
                    self.check_include(first + offset, m.group(2))
            if block.kind == "code" and block.lang not in SHELL_LANGS:
                for offset, raw in enumerate(block.lines):
                    if "--context" in raw:
                        for ctx in re.findall(r"--context[ =](\S+)", raw):
                            if ctx != self.c.context:
                                self.fail(first + offset, f'the context is "{ctx}": '
                                                          f"always use --context {self.c.context}")
        return sorted(set(self.findings), key=lambda f: (f.line, f.message))


def check_pages(pages: list[Path], contract: Contract) -> tuple[list[Finding], Counts]:
    counts = Counts()
    findings: list[Finding] = []
    for page in pages:
        findings += PageCheck(page, contract, counts).run(page.read_text(encoding="utf-8"))
    return findings, counts


def main(argv: list[str]) -> int:
    repo = Path(__file__).resolve().parents[2]
    pages = [Path(a).resolve() for a in argv] or page_files(repo) + [repo / "README.md"]
    findings, counts = check_pages(pages, contract_from_repo(repo))
    for f in findings:
        print(f"✖ {f}")
    summary = ", ".join(f"{n} {what}" for what, n in sorted(counts.seen.items()))
    print(f"Checked {len(pages)} pages: {summary}.")
    if findings:
        print(f"✖ {len(findings)} places where the text and the repository differ.")
        return 1
    print("✔ The text matches the repository.")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
