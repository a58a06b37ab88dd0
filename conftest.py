# The harness is a pytest plugin (harness/plugin.py) with its launcher (harness/launcher.py);
# loading them here makes them active for every pytest run in this repository, the containers' included.
pytest_plugins = ["harness.launcher", "harness.plugin"]
