"""`rolebinder build`: the Function Compute code packages, dist/<function>.zip, one per function.

Each zip: index.py (handler index.handler), the `rolebinder` package without its operator
tooling (`cli`, `local`, `deploy`), the mapping (validated first) as mapping.yaml and compiled
as mapping.compiled.json (what the functions load, without jsonschema or PyYAML), and the
runtime dependencies as wheels for FC's
platform and --python-version (default: the runtime template.yml deploys), cached in
<cache-dir>/.deps-<key>/ between runs. Bytecode is added only when an interpreter of that exact
version is available (this one, or python<version> on PATH).
--check first verifies that template.yml embeds the least-privilege policy of this mapping, its
runtime matches --python-version and its functions read /code/mapping.compiled.json, and that
member.yml beside it (a hub's member role) embeds the same policy.
--local-deps copies the dependencies from this interpreter instead of downloading them (no
registry needed); such zips run only on this Python version and platform.
Exit codes: 0 built; 1 the dependencies could not be installed; 2 bad input or --check failed.
"""

from __future__ import annotations

import argparse
import dataclasses
import re
import sys
import tempfile
from pathlib import Path
from typing import Any, NamedTuple

from rolebinder.cli import EXIT_FAILED, EXIT_OK, bundle, dependencies
from rolebinder.deploy import template as tpl
from rolebinder.errors import InputError
from rolebinder.mapping.model import RoleMapping, load_mapping

DEFAULT_MAPPING = tpl.PROJECT_ROOT / "examples" / "mapping.yaml"
DEFAULT_OUT = tpl.PROJECT_ROOT / "dist"
MEMBER_TEMPLATE = "member.yml"  # beside template.yml: the hub's member accounts (README)
_VERSION = re.compile(r"^3\.[0-9]{1,2}$")
_TOP_CONTRIBUTORS = 8
# The one function that fans a hub's sweep out (template.yml sets ROLEBINDER_RECONCILE_FUNCTION
# on it alone, tests/deploy/test_hub.py): its package adds the FC 3.0 SDK.
FANOUT_FUNCTION = "reconcile"


def register(commands: Any) -> None:
    parser = commands.add_parser(
        "build",
        help="build the FC code packages (dist/<function>.zip)",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--mapping", type=Path, default=DEFAULT_MAPPING, help="mapping to bundle")
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT, help="output directory")
    parser.add_argument("--cache-dir", type=Path, help="dependency cache (default: --out)")
    parser.add_argument("--python-version", help="FC runtime's Python (default: the template's)")
    parser.add_argument("--local-deps", action="store_true", help="copy this Python's packages")
    parser.add_argument("--check", action="store_true", help="verify template.yml first")
    parser.add_argument(
        "--template", type=Path, default=tpl.DEFAULT_TEMPLATE, help="for --check and the runtime"
    )
    parser.add_argument("--verbose", action="store_true", help="pip output, largest contents")
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    spec = _spec(args)
    mapping = load_mapping(args.mapping)  # InputError (exit 2) before anything is written
    if args.check:
        check_template(tpl.load_template(args.template), mapping, args.mapping, spec.python_version)
        print(f"{args.template}: policy, runtime and mapping path match {args.mapping}")
        member = args.template.with_name(MEMBER_TEMPLATE)
        if member.is_file():
            check_member(tpl.load_template(member), mapping, args.mapping)
            print(f"{member}: the member role's policy matches {args.mapping}")
    cache = args.cache_dir or args.out
    fanout_spec = dataclasses.replace(spec, requirements=dependencies.RUNTIME_REQUIREMENTS)
    try:
        deps = dependencies.installed(spec, cache, args.verbose)
        fanout = dependencies.installed(fanout_spec, cache, args.verbose)
    except dependencies.DependencyError as error:
        print(f"rolebinder build: error: {error}", file=sys.stderr)
        return EXIT_FAILED
    for package in build_all(spec, Dependencies(deps, fanout), args.mapping, args.out):
        _report(package, args.verbose)
    return EXIT_OK


def _spec(args: argparse.Namespace) -> dependencies.DependencySpec:
    if args.local_deps:
        version = args.python_version or dependencies.this_python()
        if version != dependencies.this_python():
            raise InputError(
                f"--local-deps copies Python {dependencies.this_python()}'s packages: they do not "
                f"run on --python-version {version} (drop one of the two)"
            )
        return dependencies.DependencySpec(version, dependencies.FROM_SITE_PACKAGES)
    version = args.python_version or tpl.runtime_version(tpl.load_template(args.template))
    if not _VERSION.match(version):
        raise InputError(f"--python-version {version!r} is not a version like 3.10")
    return dependencies.DependencySpec(version)


def check_template(
    template: dict[str, Any], mapping: RoleMapping, mapping_path: Path, python_version: str
) -> None:
    """InputError naming the first way template.yml disagrees with what is being bundled."""
    if tpl.embedded_policy(template) != tpl.ros_policy(mapping):
        raise InputError(
            f"template.yml's least-privilege policy is not the one {mapping_path} needs: "
            f"regenerate it with `rolebinder policy --ros --mapping {mapping_path}`"
        )
    for function_id, body in tpl.functions(template).items():
        props = body.get("Properties", {})
        if props.get("Runtime") != f"python{python_version}":
            raise InputError(
                f"template.yml runs {function_id} on {props.get('Runtime')}, "
                f"but the packages are built for python{python_version}"
            )
        path = props.get("EnvironmentVariables", {}).get("ROLEBINDER_MAPPING")
        if path != f"/code/{bundle.COMPILED_NAME}":
            raise InputError(
                f"template.yml gives {function_id} ROLEBINDER_MAPPING={path!r}; "
                f"the functions read /code/{bundle.COMPILED_NAME} (validated by the build)"
            )


def check_member(template: dict[str, Any], mapping: RoleMapping, mapping_path: Path) -> None:
    """InputError when member.yml's member role policy is not the one this mapping needs."""
    if tpl.embedded_policy(template) != tpl.ros_policy(mapping):
        raise InputError(
            f"{MEMBER_TEMPLATE}'s member role policy is not the one {mapping_path} needs: "
            f"regenerate it with `rolebinder policy --member --ros --mapping {mapping_path}`"
        )


class Dependencies(NamedTuple):
    """The event functions' install directory, and the reconcile function's (with the FC 3.0
    SDK its fan-out imports)."""

    events: Path
    fanout: Path


def build_all(
    spec: dependencies.DependencySpec, deps: Dependencies, mapping: Path, out: Path
) -> list[bundle.Package]:
    """Stage once, compile once, zip per function; reconcile's adds the fan-out's SDK."""
    interpreter = bundle.bytecode_interpreter(spec.python_version)
    if interpreter is None:
        print(
            f"note: no python{spec.python_version} on PATH: the packages ship without bytecode "
            "(FC compiles at cold start); put one on PATH to include it"
        )
    with tempfile.TemporaryDirectory(prefix="rolebinder-build-") as work:
        common, fanout = Path(work) / "common", Path(work) / "fanout"
        bundle.stage_common(common, mapping, deps.events)
        bundle.stage_dependencies(fanout, deps.fanout)
        compiled = interpreter is not None and all(
            bundle.compile_tree(tree, interpreter) for tree in (common, fanout)
        )
        packages = []
        for function in tpl.FUNCTION_DIRS:
            own = Path(work) / function
            bundle.stage_function(own, function)
            if compiled and interpreter is not None:
                bundle.compile_tree(own, interpreter)
            fans_out = function == FANOUT_FUNCTION
            installed = deps.fanout if fans_out else deps.events
            info = bundle.build_info(function, spec, installed, mapping, compiled)
            trees = [common, fanout, own] if fans_out else [common, own]
            packages.append(bundle.write_zip(out / f"{function}.zip", trees, info))
    return packages


def _report(package: bundle.Package, verbose: bool) -> None:
    print(f"{package.path}  {_megabytes(package.size)}  sha256 {package.sha256[:16]}")
    if verbose:
        for name, size in package.by_top_level[:_TOP_CONTRIBUTORS]:
            print(f"    {_megabytes(size):>9}  {name}")


def _megabytes(size: int) -> str:
    return f"{size / 1_000_000:.1f} MB"
