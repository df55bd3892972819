#!/usr/bin/env bash
# Linux oracle: run packetdrill scripts on this machine's kernel with upstream packetdrill,
# to check that a script says what Linux really does.
#
#   PACKETDRILL=/path/to/packetdrill scripts/linux-oracle.sh [--strict] FILE_OR_DIR...
#
# - Needs root (network namespaces, the TUN device packetdrill creates) and an upstream
#   packetdrill binary: $PACKETDRILL, else `packetdrill` on PATH.
# - Every script runs in a fresh network namespace (unshare --net) with the sysctls the
#   upstream scripts assume (the list below, from packetdrill's gtests/net/common/defaults.sh:
#   timestamps, SACK, tcp_rmem max 15 MiB so the window scale is 8, CUBIC, ...), so no
#   setting or socket carries over from one script to the next.
# - --strict: also fail a script when Linux sends any packet after its last line. Upstream
#   packetdrill never looks there; this appends an outbound line no packet can match and
#   passes only if packetdrill times out waiting for it.
# - A `divergences` file beside a script (see crates/synack-packetdrill, runner/divergences.rs)
#   may list it with side `linux`: the script describes synack and Linux deliberately differs,
#   so it is expected to fail here (XFAIL); if it passes, the list is wrong and that fails.
#   Entries with side `synack` describe Linux and must pass like any other script.
#
# Prints one line per script (PASS, FAIL with packetdrill's first error, XFAIL) and a total;
# exits 0 when every script did what was expected, 1 otherwise, 2 on a usage error.
set -u

usage() { echo "usage: scripts/linux-oracle.sh [--strict] FILE_OR_DIR..." >&2; exit 2; }

strict=0
scripts=()
for arg in "$@"; do
  case "$arg" in
    --strict) strict=1 ;;
    -h | --help) sed -n '2,22p' "$0"; exit 0 ;;
    -*) echo "linux-oracle: unknown option $arg" >&2; usage ;;
    *)
      if [ -d "$arg" ]; then
        while IFS= read -r f; do scripts+=("$f"); done < <(find "$arg" -maxdepth 1 -name '*.pkt' | sort)
      elif [ -f "$arg" ]; then
        scripts+=("$arg")
      else
        echo "linux-oracle: $arg: no such file or directory" >&2; exit 2
      fi ;;
  esac
done
[ ${#scripts[@]} -gt 0 ] || usage
if [ "$(id -u)" != 0 ]; then
  echo "linux-oracle: needs root (network namespaces and a TUN device)" >&2; exit 2
fi
pd=${PACKETDRILL:-$(command -v packetdrill || true)}
if [ -z "$pd" ] || [ ! -x "$pd" ]; then
  echo "linux-oracle: no packetdrill binary (set PACKETDRILL)" >&2; exit 2
fi
pd=$(cd "$(dirname "$pd")" && pwd)/$(basename "$pd")

# The environment upstream's scripts are written for (per network namespace).
SYSCTLS=(
  "net.ipv4.tcp_rmem=4096 540000 15728640"
  "net.ipv4.tcp_wmem=4096 262144 4194304"
  net.ipv4.tcp_timestamps=1
  net.ipv4.tcp_syn_retries=5
  net.ipv4.tcp_synack_retries=5
  net.ipv4.tcp_frto=2
  net.ipv4.tcp_sack=1
  net.ipv4.tcp_dsack=1
  net.ipv4.tcp_reordering=3
  net.ipv4.tcp_slow_start_after_idle=0
  net.ipv4.tcp_early_retrans=4
  net.ipv4.tcp_recovery=1
  net.ipv4.tcp_tso_win_divisor=3
  net.ipv4.tcp_ecn=0
  net.ipv4.tcp_pacing_ss_ratio=200
  net.ipv4.tcp_pacing_ca_ratio=120
  net.ipv4.tcp_notsent_lowat=4294967295
  net.ipv4.tcp_fastopen=0x70403
  net.ipv4.tcp_fastopen_key=a1a1a1a1-b2b2b2b2-c3c3c3c3-d4d4d4d4
  net.ipv4.tcp_syncookies=1
)
# Settings only some kernels have: FACK (gone since 4.15), the ECN option (6.x), and
# the linear timeouts of the first SYN retransmissions (6.18), which must stay off for
# the classic exponential backoff the scripts expect. CUBIC can be chosen inside a
# namespace only if net.ipv4.tcp_allowed_congestion_control (of the host) allows it.
OPTIONAL_SYSCTLS=(net.ipv4.tcp_fack=0 net.ipv4.tcp_ecn_option=2 net.ipv4.tcp_syn_linear_timeouts=0
  net.ipv4.tcp_congestion_control=cubic)
if ! grep -qw cubic /proc/sys/net/ipv4/tcp_allowed_congestion_control 2>/dev/null; then
  echo "linux-oracle: note: the host does not allow cubic in namespaces (net.ipv4.tcp_allowed_congestion_control);" \
    "scripts run with $(cat /proc/sys/net/ipv4/tcp_congestion_control 2>/dev/null || echo the default)"
fi

# `divergences` side of a script: "linux", "synack" or empty.
side_of() {
  local list
  list="$(dirname "$1")/divergences"
  [ -f "$list" ] || return 0
  sed 's/#.*//' "$list" | awk -v n="$(basename "$1")" '$1 == n { print $2; exit }'
}

# Run one script in a fresh namespace; prints packetdrill's output, returns its status.
run_one() {
  local dir=$1 file=$2
  unshare --net -- bash -c '
    ip link set lo up
    for s in "${@:3}"; do
      case "$s" in
        +*) sysctl -qw "${s#+}" >/dev/null 2>&1 ;;
        *) sysctl -qw "$s" >/dev/null || exit 99 ;;
      esac
    done
    cd "$1" && exec timeout 600 "$PD" "$2"
  ' oracle "$dir" "$file" "${SYSCTLS[@]}" "${OPTIONAL_SYSCTLS[@]/#/+}" 2>&1
}
export PD=$pd

passed=0 failed=0 xfailed=0
for f in "${scripts[@]}"; do
  dir=$(cd "$(dirname "$f")" && pwd)
  name=$(basename "$f")
  run=$name
  if [ $strict = 1 ]; then
    tmp=$(mktemp "${TMPDIR:-/tmp}/linux-oracle-XXXXXX.pkt")
    { cat "$f"; printf '\n+0 > F. 123456789:123456789(0) ack 987654321 win 7\n'; } >"$tmp"
    last=$(wc -l <"$tmp")
    run=$tmp
  fi
  out=$(run_one "$dir" "$run"); rc=$?
  [ $strict = 1 ] && rm -f "$tmp"
  # packetdrill names the file it ran; show the script's own name.
  first=$(printf '%s\n' "$out" | grep -m1 -E '\.pkt:[0-9]+: ' | sed "s|^.*/\?$(basename "$run"):|$name:|")
  actual=$(printf '%s\n' "$out" | grep -m1 'actual packet' | sed 's/^ *//')
  if [ $rc = 99 ]; then
    verdict=FAIL why="cannot apply the sysctls: $out"
  elif [ $strict = 1 ]; then
    if printf '%s' "$first" | grep -q "^$name:$last: .*Timed out waiting for packet"; then
      verdict=PASS why=
    else
      verdict=FAIL why="${first:-exit status $rc} $actual"
      [ $rc = 0 ] && why="the impossible last line matched"
    fi
  elif [ $rc = 0 ]; then
    verdict=PASS why=
  else
    verdict=FAIL why="${first:-$(printf '%s\n' "$out" | grep -v '^$' | tail -1)} $actual"
  fi
  if [ "$(side_of "$f")" = linux ]; then
    if [ $verdict = FAIL ]; then
      xfailed=$((xfailed + 1)); echo "XFAIL $f (listed in divergences: Linux differs): $why"; continue
    fi
    verdict=FAIL why="listed in divergences as a Linux difference, but Linux passes it"
  fi
  if [ $verdict = PASS ]; then
    passed=$((passed + 1)); echo "PASS $f"
  else
    failed=$((failed + 1)); echo "FAIL $f: $why"
  fi
done
echo "$passed passed, $failed failed, $xfailed expected failures (Linux divergences)"
[ $failed = 0 ]
