# The harness is a pytest plugin (harness/plugin.py); loading it here makes it active for every
# pytest run in this repository, the containers' included.
pytest_plugins = ["harness.plugin"]
