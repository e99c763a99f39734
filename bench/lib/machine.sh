#!/usr/bin/env bash
# Print machine.md for a bench/run results directory: CPU, kernel, versions of everything measured.
# usage: machine.sh HKV_BINARY REPO_DIR
hkv=$1
repo=$2
v() { "$@" 2>&1 | head -1; }
pkg() { dpkg-query -W -f='${Version}' "$1" 2>/dev/null || echo "not installed"; }
echo "# Machine"
echo
echo "| what | value |"
echo "|---|---|"
echo "| CPU model | $(lscpu | sed -n 's/^Model name: *//p' | head -1) |"
echo "| CPUs (online) | $(nproc --all) ($(lscpu | sed -n 's/^Thread(s) per core: *//p') thread(s) per core) |"
echo "| memory | $(awk '/MemTotal/ {printf "%.1f GiB", $2/1048576}' /proc/meminfo) |"
echo "| kernel | $(uname -srm) |"
echo "| OS | $(. /etc/os-release && echo "$PRETTY_NAME") |"
echo "| load average at report time | $(cut -d' ' -f1-3 /proc/loadavg) |"
echo "| clock ticks (CLK_TCK) | $(getconf CLK_TCK) |"
echo
echo "# Software"
echo
echo "| program | version |"
echo "|---|---|"
echo "| hkv | $(v "$hkv" --version) (commit $(git -C "$repo" rev-parse --short HEAD 2>/dev/null)$(git -C "$repo" diff --quiet HEAD -- src CMakeLists.txt 2>/dev/null || echo ', src/ has uncommitted changes'); $hkv) |"
echo "| hkv build | $(sed -n 's/^CMAKE_BUILD_TYPE:STRING=//p' "$(dirname "$hkv")/CMakeCache.txt" 2>/dev/null); $(sed -n 's/^CMAKE_CXX_COMPILER:[A-Z]*=//p' "$(dirname "$hkv")/CMakeCache.txt" 2>/dev/null) |"
echo "| do-nothing responder | bench/baseline/responder.c, $(v gcc --version) -O2 |"
echo "| nginx | $(v nginx -v) (nginx-light $(pkg nginx-light)) |"
echo "| h2o | $(v h2o --version) ($(pkg h2o)) |"
echo "| nghttpd | $(v nghttpd --version) ($(pkg nghttp2-server)) |"
echo "| Redis | $(v redis-server --version) ($(pkg redis-server)) |"
echo "| webdis | $(pkg webdis) |"
echo "| memcached | $(v memcached -V) ($(pkg memcached)) |"
echo "| h2load | $(v h2load --version) |"
echo "| wrk | $(wrk -v 2>&1 | head -1 | sed 's/ Copyright.*//') |"
echo "| redis-benchmark | $(pkg redis-tools) |"
echo "| perf | $(v perf --version) |"
echo "| gnuplot | $(v gnuplot --version) |"
echo "| python3 | $(v python3 --version) |"
echo
echo "# Pinning"
echo
echo "Servers were started with \`taskset -c <server cores>\`, load generators with \`taskset -c <client cores>\`"
echo "(see run.env). Everything ran on loopback (127.0.0.1)."
