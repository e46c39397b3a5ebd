"""The kind cluster configs against kind's config format (kind.x-k8s.io/v1alpha4).

kind cannot run here, so this is a strict JSON schema written from kind's Go types
(sigs.k8s.io/kind/pkg/apis/config/v1alpha4/types.go: Cluster, Node, Networking,
PortMapping, Mount, PatchJSON6902). Every object refuses unknown fields, like kind's
own strict YAML decoding does.
"""

from __future__ import annotations

import copy
import ipaddress
import re

import jsonschema
import pytest
import yaml
from kube_files import CLUSTERS, all_docs, make_var

INT32 = {"type": "integer", "minimum": -2147483648, "maximum": 2147483647}
PORT = {"type": "integer", "minimum": -1, "maximum": 65535}  # -1: the engine picks
STRINGS = {"type": "array", "items": {"type": "string"}}
STRING_MAP = {"type": "object", "additionalProperties": {"type": "string"}}


def strict(properties: dict, required: tuple[str, ...] = ()) -> dict:
    return {"type": "object", "properties": properties,
            "required": list(required), "additionalProperties": False}


PATCH_JSON6902 = strict({"group": {"type": "string"}, "version": {"type": "string"},
                         "kind": {"type": "string"}, "patch": {"type": "string"}},
                        ("group", "version", "kind", "patch"))

MOUNT = strict({
    "containerPath": {"type": "string"},
    "hostPath": {"type": "string"},
    "readOnly": {"type": "boolean"},
    "selinuxRelabel": {"type": "boolean"},
    "propagation": {"enum": ["None", "HostToContainer", "Bidirectional"]},
})

PORT_MAPPING = strict({
    "containerPort": PORT,
    "hostPort": PORT,
    "listenAddress": {"type": "string"},
    "protocol": {"enum": ["TCP", "UDP", "SCTP"]},
})

NODE = strict({
    "role": {"enum": ["control-plane", "worker"]},
    "image": {"type": "string"},
    "labels": STRING_MAP,
    "extraMounts": {"type": "array", "items": MOUNT},
    "extraPortMappings": {"type": "array", "items": PORT_MAPPING},
    "gpus": {"type": "string"},
    "kubeadmConfigPatches": STRINGS,
    "kubeadmConfigPatchesJSON6902": {"type": "array", "items": PATCH_JSON6902},
})

NETWORKING = strict({
    "ipFamily": {"enum": ["ipv4", "ipv6", "dual"]},
    "apiServerPort": INT32,
    "apiServerAddress": {"type": "string"},
    "podSubnet": {"type": "string"},
    "serviceSubnet": {"type": "string"},
    "disableDefaultCNI": {"type": "boolean"},
    "kubeProxyMode": {"enum": ["iptables", "ipvs", "nftables", "none"]},
    "dnsSearch": STRINGS,
})

CLUSTER = strict({
    "kind": {"const": "Cluster"},
    "apiVersion": {"const": "kind.x-k8s.io/v1alpha4"},
    "name": {"type": "string"},
    "nodes": {"type": "array", "items": NODE, "minItems": 1},
    "networking": NETWORKING,
    "featureGates": {"type": "object", "additionalProperties": {"type": "boolean"}},
    "runtimeConfig": STRING_MAP,
    "kubeadmConfigPatches": STRINGS,
    "kubeadmConfigPatchesJSON6902": {"type": "array", "items": PATCH_JSON6902},
    "containerdConfigPatches": STRINGS,
    "containerdConfigPatchesJSON6902": STRINGS,
}, ("kind", "apiVersion"))

# kind's node images are pinned by version and by digest (kind's release notes ask for both).
PINNED_NODE_IMAGE = re.compile(r"kindest/node:v\d+\.\d+\.\d+@sha256:[0-9a-f]{64}")



def kind_rule_problems(config: dict) -> list[str]:
    """What kind's Validate() checks beyond the format (pkg/internal/apis/config/validate.go)."""
    problems = []
    if not re.fullmatch(r"[a-z0-9.-]+", config.get("name", "kind")):
        problems.append(f"cluster name {config['name']!r} must match [a-z0-9.-]+")
    nodes = config.get("nodes", [])
    if not any(n.get("role", "control-plane") == "control-plane" for n in nodes):
        problems.append("there must be at least one control-plane node")
    for i, node in enumerate(nodes):
        seen = set()
        for m in node.get("extraPortMappings", []):
            address = m.get("listenAddress", "0.0.0.0")
            try:
                ipaddress.ip_address(address)
            except ValueError:
                problems.append(f"node {i}: listenAddress {address!r} is not an IP address")
            key = (address, m.get("hostPort", 0), m.get("protocol", "TCP"))
            if key[1] not in (0, -1) and key in seen:
                problems.append(f"node {i}: port mapping {key} is there twice")
            seen.add(key)
    return problems


CONFIGS = {"one-node.yaml": ["control-plane"], "two-nodes.yaml": ["control-plane", "worker"]}


def load(name: str) -> dict:
    return yaml.safe_load((CLUSTERS / name).read_text(encoding="utf-8"))


def test_the_two_configs_are_there() -> None:
    assert sorted(p.name for p in CLUSTERS.glob("*.yaml")) == sorted(CONFIGS)


@pytest.mark.parametrize("name", sorted(CONFIGS))
def test_config_matches_kind_format(name: str) -> None:
    jsonschema.validate(load(name), CLUSTER)


@pytest.mark.parametrize("name", sorted(CONFIGS))
def test_config_follows_kind_rules(name: str) -> None:
    assert kind_rule_problems(load(name)) == []


@pytest.mark.parametrize("break_it, problem", [
    (lambda c: c.update(name="Kube_Course"), "cluster name"),
    (lambda c: c["nodes"][0].update(role="worker"), "control-plane"),
    (lambda c: c["nodes"][0]["extraPortMappings"][0].update(listenAddress="localhost"),
     "not an IP address"),
    (lambda c: c["nodes"][0]["extraPortMappings"].append(
        dict(c["nodes"][0]["extraPortMappings"][0])), "twice"),
], ids=["name", "no-control-plane", "listen-address", "duplicate-mapping"])
def test_kind_rules_can_fail(break_it, problem: str) -> None:
    config = copy.deepcopy(load("one-node.yaml"))
    break_it(config)
    assert any(problem in p for p in kind_rule_problems(config)), kind_rule_problems(config)


@pytest.mark.parametrize("name", sorted(CONFIGS))
def test_config_nodes_cluster_name_and_image(name: str) -> None:
    config = load(name)
    assert [n["role"] for n in config["nodes"]] == CONFIGS[name]
    assert config["name"] == make_var("CLUSTER_NAME") == "kube-course"
    images = {n["image"] for n in config["nodes"]}
    assert len(images) == 1, "every node must use the same image"
    assert PINNED_NODE_IMAGE.fullmatch(images.pop()), "pin the node image by version and digest"


def test_both_configs_use_the_same_node_image() -> None:
    assert {n["image"] for name in CONFIGS for n in load(name)["nodes"]} \
        == {load("one-node.yaml")["nodes"][0]["image"]}


@pytest.mark.parametrize("name", sorted(CONFIGS))
def test_port_mapping_reaches_the_relay_node_port(name: str) -> None:
    """The laptop port goes to the relay Service's nodePort, on the loopback address only."""
    node_ports = {p["nodePort"] for d in all_docs() if d.kind == "Service"
                  for p in d.obj["spec"]["ports"] if "nodePort" in p}
    mappings = [m for n in load(name)["nodes"] for m in n.get("extraPortMappings", [])]
    assert {m["containerPort"] for m in mappings} == node_ports
    for m in mappings:
        assert m["listenAddress"] == "127.0.0.1", "open the port to this laptop only"
        assert m["hostPort"] == m["containerPort"]


# ---- the schema can fail ----------------------------------------------------------------------

@pytest.mark.parametrize("break_it", [
    lambda c: c.update(apiVersion="kind.x-k8s.io/v1alpha3"),
    lambda c: c["nodes"][0].update(rol="worker"),            # misspelled field
    lambda c: c["nodes"][0].update(role="master"),           # not a kind role
    lambda c: c["nodes"][0]["extraPortMappings"][0].update(hostport=80),
    lambda c: c["nodes"][0]["extraPortMappings"][0].update(protocol="HTTP"),
    lambda c: c.update(networking={"ipFamily": "ipv5"}),
    lambda c: c.update(nodes=[]),
], ids=["old-api", "misspelled-role", "bad-role", "misspelled-hostPort", "bad-protocol",
        "bad-ip-family", "no-nodes"])
def test_a_broken_config_fails(break_it) -> None:
    config = copy.deepcopy(load("one-node.yaml"))
    break_it(config)
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(config, CLUSTER)


def test_an_unpinned_image_fails_the_pin_check() -> None:
    assert not PINNED_NODE_IMAGE.fullmatch("kindest/node:v1.37.0")
    assert not PINNED_NODE_IMAGE.fullmatch("kindest/node:latest")
