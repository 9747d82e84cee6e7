"""The scripts in a clone's `recipes/` folder run the recipes shipped in the
package (`kvae.recipes`), one script per recipe and no copy of a config."""

import importlib.util
import os
import pkgutil

import pytest

import kvae.recipes

SCRIPTS = os.path.join(
    os.path.dirname(os.path.dirname(os.path.dirname(__file__))), "recipes"
)
NAMES = sorted(
    info.name for info in pkgutil.iter_modules(kvae.recipes.__path__)
)


def test_one_script_per_recipe():
    scripts = sorted(
        name[: -len(".py")]
        for name in os.listdir(SCRIPTS)
        if name.endswith(".py")
    )
    assert scripts == NAMES
    assert "kmnist" in NAMES


@pytest.mark.parametrize("name", NAMES)
def test_script_runs_the_package_recipe(name):
    spec = importlib.util.spec_from_file_location(
        f"script_{name}", os.path.join(SCRIPTS, f"{name}.py")
    )
    script = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(script)
    recipe = importlib.import_module(f"kvae.recipes.{name}")
    assert script.main is recipe.main
    # The config lives in the package only.
    assert not hasattr(script, "CONFIG")
    assert f"python -m kvae.recipes.{name}" in " ".join(script.__doc__.split())
