"""The site summary (playbooks/templates/site_next.j2) tells what a run observed, never guesses.

Rendered by ansible-core's own Templar with host variables shaped as the stages leave them: the
registered `k3s_node_get` (the server API's node object), `parsec_up` (parsec_info's answer),
`parsec_endpoint`, `triton_endpoint`/`triton_answering` and the server's `k3s_server_kubeconfig_path`.
"""

import json
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[3]
TEMPLATE = REPO / "playbooks" / "templates" / "site_next.j2"


def node(name: str, version: str, ready: str = "True", role: str = "agent", device: str = "jetson") -> dict:
    obj = {
        "metadata": {"name": name, "labels": {"edgefaas.io/role": role, "edgefaas.io/device": device}},
        "status": {"nodeInfo": {"kubeletVersion": version}, "conditions": [{"type": "Ready", "status": ready}]},
    }
    return {"rc": 0, "stdout": json.dumps(obj)}


def render(hostvars: dict, check_mode: bool = False) -> list[str]:
    """The summary's lines for these hosts, rendered in a fresh interpreter (Ansible's plugin loader)."""
    variables = {"hostvars": hostvars, "ansible_play_hosts_all": list(hostvars), "ansible_check_mode": check_mode}
    code = "\n".join(
        [
            "import json, sys",
            "from ansible.plugins.loader import init_plugin_loader",
            "init_plugin_loader([])",
            "from ansible.parsing.dataloader import DataLoader",
            "from ansible.template import Templar, trust_as_template",
            "variables = json.loads(sys.argv[1])",
            "source = open(sys.argv[2]).read()",
            "print(Templar(loader=DataLoader(), variables=variables).template(trust_as_template(source)))",
        ]
    )
    out = subprocess.run(
        [sys.executable, "-c", code, json.dumps(variables), str(TEMPLATE)], capture_output=True, text=True, check=True
    ).stdout
    return [line for line in out.strip().splitlines() if line.strip()]


def converged_site() -> dict:
    providers = [{"name": "mbed-crypto"}, {"name": "core"}]
    return {
        "sonic-1": {
            "inventory_hostname": "sonic-1",
            "ansible_host": "10.77.0.10",
            "k3s_server_kubeconfig_path": "/root/.kube/edgefaas-sonic-1.yaml",
            "k3s_server_join": {"url": "https://10.77.0.10:6443"},
            "k3s_node_get": node("sonic-1", "v1.37.2+k3s1", role="server", device="sonic"),
            "parsec_up": {"providers": providers},
            "parsec_endpoint": "unix:/run/parsec/parsec.sock",
        },
        "nano-1": {
            "inventory_hostname": "nano-1",
            "ansible_host": "10.77.0.21",
            "k3s_node_get": node("nano-1", "v1.37.2+k3s1", ready="False"),
            "parsec_up": {"providers": providers},
            "parsec_endpoint": "unix:/run/parsec/parsec.sock",
            "triton_endpoint": "127.0.0.1:8000",
            "triton_answering": True,
        },
    }


def test_a_converged_site_names_kubeconfig_nodes_and_endpoints():
    lines = render(converged_site())
    assert lines[0] == (
        "Cluster: kubectl --kubeconfig /root/.kube/edgefaas-sonic-1.yaml get nodes   (API https://10.77.0.10:6443)"
    )
    assert lines[1] == (
        "sonic-1: K3s node sonic-1 v1.37.2+k3s1, Ready=True, server on sonic; Parsec unix:/run/parsec/parsec.sock"
        " (mbed-crypto)"
    )
    assert lines[2] == (
        "nano-1: K3s node nano-1 v1.37.2+k3s1, Ready=False, agent on jetson; Parsec unix:/run/parsec/parsec.sock"
        " (mbed-crypto);"
        " Triton http://10.77.0.21:8000 (ready)"
    )


def test_stages_that_did_not_run_are_named_not_guessed():
    site = converged_site()
    for host in site.values():
        for fact in ("k3s_node_get", "k3s_server_kubeconfig_path", "parsec_endpoint"):
            host.pop(fact, None)
        host["parsec_up"] = {"skipped": True}
    lines = render(site, check_mode=True)
    assert lines[0].startswith("Check mode: nothing was changed")
    assert lines[1].startswith("Cluster: no kubeconfig fetched in this run")
    assert lines[2] == "sonic-1: K3s not checked in this run; Parsec not checked in this run"
