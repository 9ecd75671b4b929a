#!/usr/bin/env bash
# Runs a command as root in a throw-away qemu VM booting one of Debian 12's own
# kernels, for tests that need a kernel this machine does not run: the BPF
# verifiers of 6.1 and 6.12, or modules this kernel lacks (IPVS).
#
#   test/vm/run.sh [--kernel 6.1|6.12|VERSION] [--timeout SECONDS]
#                  [--cpus N] [--memory SIZE] -- COMMAND [ARG...]
#
# The guest sees this machine's root filesystem read-only (9p, readonly on the
# qemu side) under a tmpfs overlay, so every host binary runs as it is and
# writes vanish at exit; the project directory read-write at its own path, the
# only place the guest can write to the host; fresh /run, /tmp, /dev, /sys with
# bpffs, cgroup2 and tracefs; the kernel's modules at /lib/modules/$(uname -r)
# (modprobe works); and no network device but lo, so nothing leaves it.
#
# COMMAND runs under bash with the caller's environment, in the caller's
# directory if it is inside the project (else the project root). Its stdout and
# stderr stream back on ours; the exit status is COMMAND's, or 124 when the
# timeout ran out, or 125 when the VM itself failed (console tail on stderr).
# SWITCHYARD_IN_VM holds the guest's kernel version, for tests that need what
# only that kernel has.
# qemu never outlives this script, however it ends (SIGKILL too: pdeathsig).
#
# The first use installs qemu and busybox (apt-get) and caches the kernel,
# downloaded with apt-get and unpacked, never installed (test/vm/kernel.sh), and
# a small initramfs (test/vm/initramfs.sh). Later runs boot in about 2.5 s
# under TCG. Settings (environment): SWITCHYARD_VM_KERNEL (6.1),
# SWITCHYARD_VM_TIMEOUT (seconds, 900), SWITCHYARD_VM_CPUS (1),
# SWITCHYARD_VM_MEMORY (2G), SWITCHYARD_VM_ACCEL (auto: kvm when the CPU can
# virtualise, else tcg), SWITCHYARD_VM_CACHE (~/.cache/switchyard/vm),
# SWITCHYARD_VM_DEBUG=1 (the guest's console and an init trace on stderr).
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
. "$HERE/../../scripts/lib.sh"
. "$HERE/kernel.sh"
. "$HERE/initramfs.sh"

VM_CACHE=${SWITCHYARD_VM_CACHE:-${XDG_CACHE_HOME:-${HOME:-/root}/.cache}/switchyard/vm}
kernel=${SWITCHYARD_VM_KERNEL:-6.1}
timeout=${SWITCHYARD_VM_TIMEOUT:-900}
cpus=${SWITCHYARD_VM_CPUS:-1}
memory=${SWITCHYARD_VM_MEMORY:-2G}
accel=${SWITCHYARD_VM_ACCEL:-auto}
debug=${SWITCHYARD_VM_DEBUG:-0}
# A kernel that has not reached our init by then is stuck (rare under TCG:
# clock calibration); it is killed and booted again, twice at most.
BOOT_TIMEOUT=60
BOOT_TRIES=3
# Our own exit codes, as timeout(1) has them.
EXIT_TIMEOUT=124
EXIT_VM_FAILED=125

usage() { sed -n '2,/^$/s/^# \{0,1\}//p' "$0" >&2; exit 2; }
while [ $# -gt 0 ]; do
  case $1 in
    --kernel | --timeout | --cpus | --memory) [ $# -ge 2 ] || usage ;;&
    --kernel) kernel=$2; shift 2 ;;
    --timeout) timeout=$2; shift 2 ;;
    --cpus) cpus=$2; shift 2 ;;
    --memory) memory=$2; shift 2 ;;
    --) shift; break ;;
    -h | --help) usage ;;
    *) break ;;
  esac
done
[ $# -gt 0 ] || usage

# A failure of ours must never pass for the command's exit status.
vm_die() { printf '\033[1;31m[switchyard] vm:\033[0m %s\n' "$*" >&2; exit $EXIT_VM_FAILED; }
die() { vm_die "$@"; }

# Host tools: qemu, a static busybox for the initramfs, kmod (depmod here,
# modprobe in the guest, which runs this machine's binaries), cpio, and the
# decompressors of Debian's kernel images and modules.
install_host_packages() {
  local missing=()
  command -v qemu-system-x86_64 > /dev/null || missing+=(qemu-system-x86)
  { [ -x /bin/busybox ] && ! ldd /bin/busybox > /dev/null 2>&1; } || missing+=(busybox-static)
  command -v depmod > /dev/null || missing+=(kmod)
  command -v cpio > /dev/null || missing+=(cpio)
  command -v xz > /dev/null || missing+=(xz-utils)
  command -v zstd > /dev/null || missing+=(zstd)
  [ ${#missing[@]} -eq 0 ] && return
  [ "$(id -u)" = 0 ] || vm_die "missing Debian packages (${missing[*]}); run as root once to install them"
  log "vm: installing ${missing[*]}"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" > /dev/null
}

# Until the VM starts, any failure is ours and exits 125, never passing for
# the command's status; errtrace carries the trap into functions and $(...).
set -E
trap 'exit $EXIT_VM_FAILED' ERR
install_host_packages
version=$(resolve_kernel_version "$kernel")
prepare_kernel "$version"
initramfs=$(build_initramfs "$version")
trap - ERR
# From here on every status is looked at where it arises.
set +eE

if [ "$accel" = auto ]; then
  accel=tcg
  [ -w /dev/kvm ] && grep -qwE 'vmx|svm' /proc/cpuinfo && accel=kvm
fi
case $accel in
  kvm) cpu_args=(-accel kvm -cpu host) ;;
  tcg) cpu_args=(-accel tcg,thread=multi -cpu max) ;;
  *) vm_die "SWITCHYARD_VM_ACCEL must be auto, kvm or tcg" ;;
esac

project=$SWITCHYARD_ROOT
cwd=$(pwd -P)
case $cwd/ in "$project"/*) ;; *) cwd=$project ;; esac

# The run's directory carries our pid: a run killed with SIGKILL cannot clean
# up, so the next one removes the directories of runs no longer alive.
for dir in "${TMPDIR:-/tmp}"/switchyard-vm.*.*; do
  pid=${dir##*/switchyard-vm.}
  pid=${pid%%.*}
  [ -d "$dir" ] && [[ $pid =~ ^[0-9]+$ ]] && ! kill -0 "$pid" 2> /dev/null && rm -rf "$dir"
done
run=$(mktemp -d "${TMPDIR:-/tmp}/switchyard-vm.$$.XXXXXX")
qemu=
tails=()
cleanup() {
  [ -n "$qemu" ] && kill -KILL "$qemu" 2> /dev/null && wait "$qemu" 2> /dev/null
  for pid in "${tails[@]}"; do kill "$pid" 2> /dev/null; done
  rm -rf "$run"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM HUP

# What the guest reads from its "control" share (test/vm/init, guest.sh).
mkdir "$run/control"
printf '%q ' "$@" > "$run/control/command"
printf '%s\n' "$cwd" > "$run/control/cwd"
printf '%s\n' "$project" > "$run/control/project"
printf '%s\n' "$VM_CACHE/$version/lib/modules/$version" > "$run/control/modules"
# The caller's environment, less what names this machine's session or our knobs.
export -p | grep -vE '^declare -[a-zA-Z]*r|^declare -x (PWD|OLDPWD|SHLVL|_|HOSTNAME|TMPDIR|XDG_RUNTIME_DIR|DBUS_SESSION_BUS_ADDRESS|SSH_[A-Z_]*|DISPLAY|TMUX[A-Z_]*|SWITCHYARD_VM_[A-Z_]*)=' \
  > "$run/control/env"
# Tests that need what only the VM's kernel has (IPVS) fail there instead of skipping.
printf 'declare -x SWITCHYARD_IN_VM=%q\n' "$version" >> "$run/control/env"

# A TCG-friendly command line: no PIT-based clock checks that TCG timing
# fails, no mitigations or memory zeroing, no slow ACPI PCI IRQ routing and
# keyboard probing; panic=-1 with -no-reboot turns a panic into qemu exiting.
append="console=ttyS0 panic=-1 reboot=t tsc=reliable no_timer_check cryptomgr.notests pci=noacpi"
append+=" i8042.noaux i8042.nomux i8042.nopnp i8042.dumbkbd"
[ "$accel" = tcg ] && append+=" mitigations=off init_on_alloc=0"
if [ "$debug" = 1 ]; then append+=" sy.trace"; else append+=" quiet"; fi

# The 9p shares: tag, host path, extra fsdev options. qemu splits options at
# commas, so a path must have none.
shares=()
share() {
  [[ $2 != *,* ]] || vm_die "cannot share $2 with qemu: its path has a comma"
  shares+=(-fsdev "local,id=$1,path=$2,security_model=none,multidevs=remap$3" -device "virtio-9p-pci,fsdev=$1,mount_tag=$1")
}
share hostroot / ,readonly=on
share control "$run/control" ,readonly=on
share project "$project" ''

# One boot: qemu in the background, its output files relayed as they grow.
start_qemu() {
  : > "$run/out"
  : > "$run/err"
  : > "$run/status"
  setpriv --pdeathsig KILL -- qemu-system-x86_64 -M pc "${cpu_args[@]}" -smp "$cpus" -m "$memory" \
    -nodefaults -no-user-config -display none -monitor none -nic none -no-reboot \
    -kernel "$VM_CACHE/$version/vmlinux" -initrd "$initramfs" -append "$append" \
    -serial "file:$run/console.log" \
    "${shares[@]}" \
    -device virtio-serial-pci,max_ports=4 \
    -chardev "file,id=out,path=$run/out,append=on" -device virtserialport,chardev=out,name=out \
    -chardev "file,id=err,path=$run/err,append=on" -device virtserialport,chardev=err,name=err \
    -chardev "file,id=status,path=$run/status,append=on" -device virtserialport,chardev=status,name=status \
    < /dev/null > "$run/qemu.log" 2>&1 &
  qemu=$!
  # tail exits by itself once qemu is gone and the files are read to the end.
  tail -c +1 -s 0.1 -f --pid="$qemu" "$run/out" &
  tails+=($!)
  tail -c +1 -s 0.1 -f --pid="$qemu" "$run/err" >&2 &
  tails+=($!)
}

now_ms() { local us=${EPOCHREALTIME/./}; echo $((us / 1000)); }
deadline=$(($(now_ms) + timeout * 1000))
outcome=
for ((try = 1; try <= BOOT_TRIES; try++)); do
  start_qemu
  boot_deadline=$(($(now_ms) + BOOT_TIMEOUT * 1000))
  outcome=exited
  while kill -0 "$qemu" 2> /dev/null; do
    now=$(now_ms)
    if ((now >= deadline)); then
      outcome=timeout
    elif ((now >= boot_deadline)) && ! grep -q '^booted' "$run/status"; then
      outcome=hung
    fi
    [ "$outcome" = exited ] || { kill -KILL "$qemu"; break; }
    sleep 0.1
  done
  wait "$qemu" 2> /dev/null
  qemu=
  for pid in "${tails[@]}"; do wait "$pid" 2> /dev/null; done
  tails=()
  [ "$outcome" = hung ] || break
  cp "$run/console.log" "$VM_CACHE/last-hung-boot.log"
  log "vm: the guest did not reach its init in ${BOOT_TIMEOUT}s (try $try of $BOOT_TRIES; console in $VM_CACHE/last-hung-boot.log)"
done

[ "$debug" = 1 ] && { echo '---- guest console ----'; cat "$run/console.log"; } >&2
rc=$(sed -n 's/^rc=\([0-9]*\)$/\1/p' "$run/status" | tail -1)
if [ "$outcome" = timeout ]; then
  log "vm: timed out after ${timeout}s (SWITCHYARD_VM_TIMEOUT, --timeout)"
  exit $EXIT_TIMEOUT
fi
[ -n "$rc" ] && exit "$rc"
why=$(sed -n 's/^failed: //p' "$run/status" | tail -1)
printf '\033[1;31m[switchyard] vm:\033[0m %s\n' "${why:-the VM ended without reporting an exit status ($outcome)}" >&2
echo '---- qemu ----' >&2
tail -20 "$run/qemu.log" >&2
echo '---- guest console (tail) ----' >&2
tail -40 "$run/console.log" >&2
exit $EXIT_VM_FAILED
