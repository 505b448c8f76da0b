#!/usr/bin/env bash
# Install what Discomy's demo and tests need on a Debian machine, idempotently:
#  1. Debian packages that are missing (apt), as root;
#  2. a virtualenv keyed by the hash of requirements.txt, cached
#     under $DISCOMY_VENV_CACHE and linked as ./.venv, so repeat runs are instant.
set -euo pipefail
cd "$(dirname "$0")/.."

APT_PACKAGES=(
  rpm python3-rpm createrepo-c libsolv-tools python3-solv python3-gi gir1.2-modulemd-2.0
  python3-venv python3-dev libkrb5-dev pkg-config gcc rpmlint
  rabbitmq-server postgresql dnf
  # xz for compressed rpm-md; libssl-dev so python-qpid-proton is built with TLS (amqps://)
  xz-utils libssl-dev
  # kojid, run from koji's upstream tree in the real-koji tests, imports librepo
  python3-librepo
  # git: module components come from git repositories; zstd: modules.yaml.zst
  git zstd
)

missing=()
for pkg in "${APT_PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || missing+=("$pkg")
done
if ((${#missing[@]})); then
  echo "bootstrap: installing Debian packages: ${missing[*]}"
  if [ "$(id -u)" != 0 ]; then
    echo "bootstrap: missing Debian packages and not root; install them: apt-get install ${missing[*]}" >&2
    exit 1
  fi
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
  # rabbitmq-server and postgresql start system services on install; tests run their own.
  systemctl disable --now rabbitmq-server postgresql >/dev/null 2>&1 || true
fi

# The venv depends on the requirements and on the Debian packages it was compiled
# against (proton's TLS comes from libssl-dev at build time), so both key it.
hash=$( (cat requirements.txt; printf '%s\n' "${APT_PACKAGES[@]}") | sha256sum | cut -c1-16)
cache=${DISCOMY_VENV_CACHE:-/var/tmp/discomy-venvs}
venv="$cache/$hash"
if [ ! -f "$venv/.complete" ]; then
  echo "bootstrap: building virtualenv $venv"
  rm -rf "$venv"
  mkdir -p "$cache"
  # Debian's interpreter, so its rpm, solv and gi bindings are importable.
  /usr/bin/python3 -m venv --system-site-packages "$venv"
  # wheel: the editable install of the project below builds a wheel with the
  # venv's setuptools, which Debian's python3-venv seeds without it
  "$venv/bin/pip" install -q --upgrade pip wheel 2> >(grep -v "^WARNING: Location" >&2)
  "$venv/bin/pip" install -q -r requirements.txt 2> >(grep -v "^WARNING: Location" >&2)
  touch "$venv/.complete"
fi
if [ "$(readlink .venv 2>/dev/null)" != "$venv" ]; then
  rm -rf .venv
  ln -s "$venv" .venv
fi
# The project itself is installed editable, again only when this checkout or its
# pyproject.toml (entry points) differs from what the venv has.
stamp="$(pwd)/orchestrator $(sha256sum orchestrator/pyproject.toml | cut -c1-16)"
if [ "$(cat "$venv/.project" 2>/dev/null)" != "$stamp" ]; then
  log=$(mktemp)
  if ! .venv/bin/pip install -q --no-deps --no-build-isolation -e orchestrator >"$log" 2>&1; then
    cat "$log" >&2; rm -f "$log"; exit 1
  fi
  rm -f "$log"
  echo "$stamp" > "$venv/.project"
fi
