"""CI must not pass by skipping: every tox env whose interpreter this machine has must have run
its tests, all of them, and passed. Here "has" means pyenv has that X.Y version installed.

    python3 .ci/required_envs_ran.py RESULTS_DIR ENV...
"""
import os
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

results, envs = Path(sys.argv[1]), sys.argv[2:]
pyenv = Path(os.environ.get("PYENV_ROOT") or Path.home() / ".pyenv") / "versions"
have = {".".join(p.name.split(".")[:2]) for p in pyenv.glob("*") if p.name[:1].isdigit()}
problems = []
for env in envs:
    if env not in have:
        continue
    junit = results / f"junit.{env}.xml"
    if not junit.is_file():
        problems.append(f"{env}: this machine has Python {env} but the env wrote no {junit}")
        continue
    suite = ET.parse(junit).getroot()
    suite = suite if suite.tag == "testsuite" else suite.find("testsuite")
    tests, bad, skipped = (int(suite.get(k, 0)) for k in ("tests", "failures", "skipped"))
    bad += int(suite.get("errors", 0))
    if tests == 0 or bad or skipped:
        problems.append(f"{env}: {tests} tests, {bad} failed or errored, {skipped} skipped in {junit}")
print("\n".join(problems) or f"every env with a local interpreter ran and passed: {', '.join(e for e in envs if e in have)}")
sys.exit(1 if problems else 0)
