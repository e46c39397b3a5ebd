"""Every shell script passes shellcheck, and the check itself can fail."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from script_tools import REPO

SCRIPTS = sorted(REPO.glob("scripts/*.sh")) + sorted(REPO.glob("tests/**/*.sh")) + [REPO / ".ci" / "run"]


def shellcheck_run(shellcheck: str, path: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([shellcheck, "--external-sources", "--severity=style", str(path)],
                          cwd=REPO, capture_output=True, text=True, timeout=120)


def test_the_scripts_are_there():
    names = {p.name for p in SCRIPTS}
    assert {"demo.sh", "e2e.sh", "lib.sh", "engine.sh", "setup-test-tools.sh", "builder-standin.sh", "run"} <= names


@pytest.mark.parametrize("script", SCRIPTS, ids=lambda p: str(p.relative_to(REPO)))
def test_shellcheck_is_clean(shellcheck, script):
    done = shellcheck_run(shellcheck, script)
    assert done.returncode == 0, done.stdout + done.stderr


@pytest.mark.parametrize("script", SCRIPTS, ids=lambda p: str(p.relative_to(REPO)))
def test_scripts_are_strict_bash(script):
    lines = script.read_text().splitlines()
    assert lines[0] == "#!/usr/bin/env bash", f"{script}: the first line should be #!/usr/bin/env bash"
    assert "set -euo pipefail" in lines, f"{script}: it should stop on errors (set -euo pipefail)"


def test_shellcheck_finds_a_real_fault(shellcheck, tmp_path):
    """Proof that the check above can fail: an unquoted variable is reported."""
    bad = tmp_path / "bad.sh"
    bad.write_text('#!/usr/bin/env bash\nrm $1\n')
    done = shellcheck_run(shellcheck, bad)
    assert done.returncode != 0
    assert "SC2086" in done.stdout
