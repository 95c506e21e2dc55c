#!/bin/sh
# install-deps.sh: make sure Criterion and pkg-config are installed.
# Installs them with apt-get (through sudo when not root) or Homebrew, or
# stops with the exact command to run. Quiet when everything is there.
set -e

have_criterion() {
    command -v pkg-config >/dev/null 2>&1 && pkg-config --exists criterion
}

have_criterion && exit 0

os=$(uname -s)
if [ "$os" = Darwin ]; then
    if command -v brew >/dev/null 2>&1; then
        echo "raftlab: installing Criterion with Homebrew..."
        brew install criterion pkg-config
    else
        echo "raftlab: Criterion is missing. Install Homebrew (https://brew.sh), then run:" >&2
        echo "    brew install criterion pkg-config" >&2
        exit 1
    fi
elif command -v apt-get >/dev/null 2>&1; then
    cmd="apt-get update -qq && apt-get install -y -qq libcriterion-dev pkg-config"
    if [ "$(id -u)" = 0 ]; then
        echo "raftlab: installing Criterion with apt-get..."
        sh -c "$cmd"
    elif command -v sudo >/dev/null 2>&1; then
        echo "raftlab: installing Criterion with sudo apt-get (you may be asked for your password)..."
        sudo sh -c "$cmd"
    else
        echo "raftlab: Criterion is missing. As root, run:" >&2
        echo "    $cmd" >&2
        exit 1
    fi
else
    echo "raftlab: Criterion is missing and this system has neither apt-get nor Homebrew." >&2
    echo "    Install Criterion 2.4 and pkg-config with your package manager, then re-run make." >&2
    exit 1
fi

if ! have_criterion; then
    echo "raftlab: Criterion still not found by pkg-config after installing it." >&2
    echo "    Check: pkg-config --cflags --libs criterion" >&2
    exit 1
fi
