"""mssql.tls stand-in for ansible-test's get-pip bootstrap script.

ansible-test bootstraps pip into each of its virtual environments by running
``~/.ansible/test/cache/get_pip_<version>.py`` and downloads that script from
Ansible's CI file server when it is missing. CI here reaches only the
package registries, so `.ci/ansible-test` installs this file under that name
(reference/ansible-winrm-wire.md section 6). ansible-test calls it as:

    <venv>/bin/python get_pip_24_2.py --disable-pip-version-check pip==24.2 --no-setuptools --no-wheel

It installs the bundled pip with ensurepip, then lets that pip install the
requested version from the configured index.
"""

import ensurepip
import os
import subprocess
import sys

# get-pip.py options that `pip install` does not know.
GET_PIP_ONLY = {"--no-setuptools", "--no-wheel"}


def main():
    # ensurepip removes every PIP_* variable from this process and sets
    # PIP_CONFIG_FILE=os.devnull, which would hide /etc/pip.conf and the
    # user's pip.conf from the next step: that step gets the environment
    # as it was before.
    env = os.environ.copy()
    ensurepip.bootstrap(upgrade=True, default_pip=True)
    args = [arg for arg in sys.argv[1:] if arg not in GET_PIP_ONLY]
    return subprocess.call([sys.executable, "-m", "pip", "install", *args], env=env)


if __name__ == "__main__":
    sys.exit(main())
