#!/usr/bin/env bash
# The runtime recipe of reference/runtime.md run directly, as the baseline heyod is measured
# against: overlay on a pre-shifted image, loopback-only netns, v1/v2 cgroups, uid-shifted user
# namespace (holder variant), bubblewrap init; `destroy` undoes it all.
#   raw-sandbox.sh create  <image-dir> <scratch-dir> <name>   prints the init's pid
#   raw-sandbox.sh destroy <scratch-dir> <name>
set -euo pipefail

cgroup_dirs() { # the sandbox's cgroup directories, one per controller
  local name=$1
  if [ -f /sys/fs/cgroup/cgroup.controllers ]; then
    echo "/sys/fs/cgroup$(awk -F: '$1=="0"{print $3}' /proc/self/cgroup | sed 's#/$##')/$name"
    return
  fi
  for c in memory pids cpu freezer; do
    [ -d "/sys/fs/cgroup/$c" ] || continue
    echo "/sys/fs/cgroup/$c$(awk -F: -v c="$c" '{n=split($2,a,","); for(i=1;i<=n;i++) if(a[i]==c) print $3}' /proc/self/cgroup | sed 's#/$##')/$name"
  done
}

case $1 in
create)
  image=$2 root=$3 name=$4
  mkdir -p "$root/upper" "$root/work" "$root/merged"
  chown 100000:100000 "$root/upper"
  mount -t overlay overlay -o "lowerdir=$image,upperdir=$root/upper,workdir=$root/work" "$root/merged"
  ip netns add "$name"
  ip -n "$name" link set lo up
  cgs=()
  for dir in $(cgroup_dirs "$name"); do
    mkdir -p "$dir"
    case $dir in
      */memory/*) echo $((512 * 1024 * 1024)) > "$dir/memory.limit_in_bytes" ;;
      */pids/*) echo 256 > "$dir/pids.max" ;;
      */cpu/*) echo 100000 > "$dir/cpu.cfs_period_us"; echo 25000 > "$dir/cpu.cfs_quota_us" ;;
    esac
    cgs+=("$dir/cgroup.procs")
  done
  mkfifo "$root/info"
  unshare --user sleep infinity &
  holder=$!
  self=$(readlink /proc/self/ns/user)
  while [ "$(readlink /proc/$holder/ns/user)" = "$self" ]; do :; done
  echo "0 100000 65536" > /proc/$holder/uid_map
  echo "0 100000 65536" > /proc/$holder/gid_map
  sh -c 'for c in "$@"; do echo $$ > "$c"; done; exec nsenter --net=/run/netns/'"$name"' --user=/proc/'"$holder"'/ns/user \
    bwrap --unshare-pid --unshare-ipc --unshare-uts --unshare-cgroup-try --die-with-parent \
      --bind '"$root/merged"' / --ro-bind /usr /usr --proc /proc --dev /dev --hostname '"$name"' --chdir / \
      --info-fd 3 -- /bin/sleep infinity' sh "${cgs[@]}" 3>"$root/info" </dev/null >/dev/null 2>&1 &
  # bubblewrap writes {"child-pid": N} to the info fd once the sandbox runs, then closes it.
  info=$(cat "$root/info")
  kill "$holder"
  [[ $info =~ \"child-pid\":\ *([0-9]+) ]]
  echo "${BASH_REMATCH[1]}" | tee "$root/pid"
  ;;
destroy)
  root=$2 name=$3
  pid=$(cat "$root/pid")
  kill -KILL "$pid" 2>/dev/null || true
  for dir in $(cgroup_dirs "$name"); do
    while [ -s "$dir/cgroup.procs" ]; do sleep 0.01; done
    rmdir "$dir"
  done
  umount "$root/merged"
  ip netns del "$name"
  rm -rf "$root"
  ;;
esac
