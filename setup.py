"""Ships schemas/ and tenant_configs/ inside the wheel (as core/_schemas, core/_demo_tenants).

The repository keeps them at the top level, where implementers look for them;
an installed package must still validate configs and run the demo.
"""

import shutil
from pathlib import Path

from setuptools import setup
from setuptools.command.build_py import build_py

_SHIPPED = {"schemas": "_schemas", "tenant_configs": "_demo_tenants"}


class BuildPyWithData(build_py):
    def run(self) -> None:
        super().run()
        root = Path(__file__).resolve().parent
        for source, target in _SHIPPED.items():
            destination = Path(self.build_lib) / "core" / target
            destination.mkdir(parents=True, exist_ok=True)
            for path in sorted((root / source).glob("*.json")):
                shutil.copyfile(path, destination / path.name)


setup(cmdclass={"build_py": BuildPyWithData})
