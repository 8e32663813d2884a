"""parsec_key and parsec_info run by ansible-playbook against the real Parsec service.

Every case runs as check, real, idempotent and idempotent-check, asserting changed / changed /
not changed / not changed; the module runs under the host's system Python, so the client's
standard-library-only promise is tested too.
"""

from __future__ import annotations

import os
import pathlib
import shutil
import subprocess
import sys
import uuid

import pytest

REPO = pathlib.Path(__file__).resolve().parents[3]
PLAYBOOK = """
- name: parsec_key and parsec_info against a real service
  hosts: localhost
  connection: local
  gather_facts: false
  vars:
    key: "{{ key_name }}"
  tasks:
    - name: Create (check)
      edgefaas.platform.parsec_key: {name: "{{ key }}", type: ecc, endpoint: "{{ endpoint }}"}
      check_mode: true
      register: create_check
    - name: Create
      edgefaas.platform.parsec_key: {name: "{{ key }}", type: ecc, endpoint: "{{ endpoint }}"}
      register: create
    - name: Create again
      edgefaas.platform.parsec_key: {name: "{{ key }}", type: ecc, endpoint: "{{ endpoint }}"}
      register: create_again
    - name: Create again (check)
      edgefaas.platform.parsec_key: {name: "{{ key }}", type: ecc, endpoint: "{{ endpoint }}"}
      check_mode: true
      register: create_again_check
    - name: Other attributes without force
      edgefaas.platform.parsec_key: {name: "{{ key }}", type: ecc, bits: 521, endpoint: "{{ endpoint }}"}
      register: different
      ignore_errors: true
    - name: Impossible combination
      edgefaas.platform.parsec_key: {name: "{{ key }}", type: ecc, algorithm: rsa_oaep, endpoint: "{{ endpoint }}"}
      register: impossible
      ignore_errors: true
    - name: Info
      edgefaas.platform.parsec_info: {endpoint: "{{ endpoint }}"}
      check_mode: true
      register: info
    - name: Force other attributes (check)
      edgefaas.platform.parsec_key: {name: "{{ key }}", type: ecc, bits: 521, force: true, endpoint: "{{ endpoint }}"}
      check_mode: true
      register: force_check
    - name: Force other attributes
      edgefaas.platform.parsec_key: {name: "{{ key }}", type: ecc, bits: 521, force: true, endpoint: "{{ endpoint }}"}
      register: force
    - name: RSA encryption key
      edgefaas.platform.parsec_key: {name: "{{ key }}-rsa", type: rsa, usage: encrypt, endpoint: "{{ endpoint }}"}
      register: rsa
    - name: Remove (check)
      edgefaas.platform.parsec_key: {name: "{{ key }}", state: absent, endpoint: "{{ endpoint }}"}
      check_mode: true
      register: remove_check
    - name: Remove
      edgefaas.platform.parsec_key: {name: "{{ item }}", state: absent, endpoint: "{{ endpoint }}"}
      loop: ["{{ key }}", "{{ key }}-rsa"]
      register: remove
    - name: Remove again
      edgefaas.platform.parsec_key: {name: "{{ key }}", state: absent, endpoint: "{{ endpoint }}"}
      register: remove_again
    - name: Every result is as expected
      ansible.builtin.assert:
        that:
          - create_check is changed and create_check.public_key is not defined
          - create is changed and create.public_key is search('BEGIN PUBLIC KEY')
          - create_again is not changed and create_again.public_key == create.public_key
          - create_again_check is not changed
          - different is failed and 'bits is 256 (wanted 521)' in different.msg
          - impossible is failed and 'rsa_oaep needs an RSA key' in impossible.msg
          - info is not changed and info.wire_protocol_version == '1.0'
          - key in (info.client_keys | map(attribute='name'))
          - force_check is changed and force_check.public_key is not defined
          - force is changed and force.key.attributes.bits == 521 and force.public_key != create.public_key
          - rsa is changed and rsa.key.attributes.algorithm.name == 'rsa_oaep'
          - remove_check is changed and remove is changed and remove_again is not changed
"""


@pytest.fixture(scope="module")
def ansible_playbook():
    path = shutil.which("ansible-playbook", path=os.path.dirname(sys.executable) + os.pathsep + os.environ["PATH"])
    if not path:
        pytest.skip("ansible-playbook not found")
    return path


def test_modules_are_idempotent_and_check_mode_changes_nothing(endpoint, ansible_playbook, tmp_path):
    (tmp_path / "playbook.yml").write_text(PLAYBOOK)
    (tmp_path / "ansible.cfg").write_text("[defaults]\n")
    interpreter = shutil.which("python3", path="/usr/bin") or sys.executable
    environment = dict(
        os.environ,
        ANSIBLE_CONFIG=str(tmp_path / "ansible.cfg"),
        ANSIBLE_COLLECTIONS_PATH=str(REPO / ".cache" / "collections"),
        ANSIBLE_LOCALHOST_WARNING="false",
        ANSIBLE_NOCOLOR="true",
    )
    key_name = "module-" + uuid.uuid4().hex[:10]
    completed = subprocess.run(
        [
            ansible_playbook,
            "-i",
            "localhost,",
            str(tmp_path / "playbook.yml"),
            "-e",
            "endpoint={} key_name={} ansible_python_interpreter={}".format(endpoint, key_name, interpreter),
        ],
        env=environment,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert completed.returncode == 0, completed.stdout[-6000:] + completed.stderr[-2000:]
