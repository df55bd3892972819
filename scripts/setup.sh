#!/usr/bin/env bash
# Installs what the tests need on a fresh Debian machine: the tools the interop tests
# drive (iproute2 for `ip netns` / `ss`, nftables for kernel-side loss, curl, wget,
# python3, ping, hping3 for the SYN flood bench) and the Rust components (rustfmt,
# clippy, and two targets without std for the no_std check). Safe to run again: it only
# installs what is missing. Without root, it prints what is missing and carries on (the
# interop tests skip themselves when not root).
set -euo pipefail

need=()
command -v ip >/dev/null 2>&1 || need+=(iproute2)
command -v ss >/dev/null 2>&1 || need+=(iproute2)
command -v nft >/dev/null 2>&1 || need+=(nftables)
command -v curl >/dev/null 2>&1 || need+=(curl)
command -v wget >/dev/null 2>&1 || need+=(wget)
command -v python3 >/dev/null 2>&1 || need+=(python3)
command -v tcpdump >/dev/null 2>&1 || need+=(tcpdump)
# The link emulator's accuracy check pings through it (crates/synack-link/tests).
command -v ping >/dev/null 2>&1 || need+=(iputils-ping)
# scripts/linux-oracle.sh: a fresh network namespace per script, and its sysctls.
command -v unshare >/dev/null 2>&1 || need+=(util-linux)
command -v sysctl >/dev/null 2>&1 || need+=(procps)
# `synack bench --only flood`: a SYN flood with spoofed sources (issue 16).
command -v hping3 >/dev/null 2>&1 || need+=(hping3)
# `synack tun2socks` interop test (crates/synack-cli/tests): a real SOCKS5 server
# (Dante: CONNECT and UDP ASSOCIATE) and `dig` for DNS queries through the tunnel.
command -v danted >/dev/null 2>&1 || [ -x /usr/sbin/danted ] || need+=(dante-server)
command -v dig >/dev/null 2>&1 || need+=(dnsutils)
# Deduplicate.
mapfile -t need < <(printf '%s\n' "${need[@]}" | sort -u | sed '/^$/d')

if [ "${#need[@]}" -gt 0 ]; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    echo "setup: installing ${need[*]}"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
  else
    echo "setup: missing ${need[*]} (not root or no apt-get): interop tests will skip"
  fi
fi

if command -v rustup >/dev/null 2>&1; then
  rustup component list --installed 2>/dev/null | grep -q '^rustfmt' || rustup component add rustfmt
  rustup component list --installed 2>/dev/null | grep -q '^clippy' || rustup component add clippy
  # .ci/run builds synack-wire and synack-core for targets without std (no_std check);
  # where a target cannot be added (offline), that step builds for the host instead.
  for t in x86_64-unknown-none thumbv7em-none-eabihf; do
    rustup target list --installed 2>/dev/null | grep -qx "$t" ||
      rustup target add "$t" ||
      echo "setup: could not add target $t: the no_std check will build for the host"
  done
fi
