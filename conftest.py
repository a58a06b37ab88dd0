# The harness is a pytest plugin (harness/plugin.py) with its launcher (harness/launcher.py);
# loading them here makes them active for every pytest run in this repository, the containers' included.
# pytester: the harness's own tests run a pytest session in-process where one needs no process of
# its own (a bad command line).
pytest_plugins = ["harness.launcher", "harness.plugin", "pytester"]
