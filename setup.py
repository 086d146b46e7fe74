"""Map the four code folders into the ``midimon`` namespace.

The design card keeps ``engine/``, ``sandbox/``, ``plugins/`` and ``config/`` at the top of the
repository, yet nothing may install a top-level ``engine`` or ``config`` module. Subpackages are
found here so that adding a folder never needs an edit to a package list.
"""

from setuptools import find_packages, setup

FOLDERS = ("config", "engine", "sandbox", "plugins")

packages = []
for folder in FOLDERS:
    packages += ["midimon." + name for name in find_packages(include=[folder, folder + ".*"])]

setup(
    packages=packages,
    package_dir={"midimon." + folder: folder for folder in FOLDERS},
    package_data={
        # py.typed (PEP 561): type checkers read the package's own annotations
        "midimon." + folder: [
            "py.typed",
            "**/*.toml",
            "**/*.json",
            "**/*.html",
            "**/*.js",
            "**/*.css",
            "**/*.py.txt",
            "**/*.c",
            "**/*.h",
        ]
        for folder in FOLDERS
    },
    include_package_data=True,
)
