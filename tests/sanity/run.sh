#!/usr/bin/env bash
# ansible-test sanity, offline-capable: runs on a copy of the collection laid out as
# ansible_collections/edgefaas/platform, with ansible-test's pip bootstrap served from ensurepip.
set -euo pipefail
repo=$(cd "$(dirname "$0")/../.." && pwd)
work="$repo/.cache/sanity/ansible_collections/edgefaas/platform"

pip_version=$(python - <<'PY'
from ansible_test._internal.python_requirements import get_venv_packages
from ansible_test._internal.host_configs import NativePythonConfig
print(get_venv_packages(NativePythonConfig(version="3.11"))["pip"])
PY
)
cache="$HOME/.ansible/test/cache/get_pip_${pip_version//./_}.py"
mkdir -p "$(dirname "$cache")"
cp "$repo/tests/sanity/get_pip_offline.py" "$cache"

rm -rf "$work" && mkdir -p "$work"
(cd "$repo" && git ls-files -co --exclude-standard -z | tar --null -T - -cf -) | tar -xf - -C "$work"
cd "$work"
# git metadata lets ansible-test list the collection's files the way CI does.
git init -q && git add -A && git -c user.name=sanity -c user.email=sanity@localhost commit -qm sanity

# pyenv machines: let its shims find every installed interpreter, not just the global one.
if command -v pyenv >/dev/null 2>&1; then
  PYENV_VERSION=$(pyenv versions --bare | tr '\n' ':')
  export PYENV_VERSION
fi
controller=$(python -c 'import sys; print("%d.%d" % sys.version_info[:2])')
ansible-test sanity --venv --python "$controller" --color no "$@"
# The Python-version-specific tests again for every other target Python this machine has. The
# interpreter's own directory goes first on PATH: ansible-test passes a clean environment on, in
# which pyenv's shims would not find it.
for v in 3.8 3.9 3.10 3.12 3.13 3.14; do
  [ "$v" != "$controller" ] || continue
  real=$("python$v" -c 'import sys; print(sys.executable)' 2>/dev/null) || continue
  PATH="$(dirname "$real"):$PATH" ansible-test sanity --venv --python "$v" --color no --test compile --test import
done
