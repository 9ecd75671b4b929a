# shellcheck shell=bash
# Debian's kernels for the test VM, unpacked into a cache and never installed on
# this machine: `apt-get download` fetches the linux-image package, which is
# unpacked next to its modules (depmod'ed) and the ELF vmlinux inside its
# bzImage. Installing the package instead would write /boot and /lib/modules of
# a shared host and spend ~45 s building Debian's initrd, which we never boot.
# Sourced by test/vm/run.sh, not executed.
#
#   $VM_CACHE/<version>/vmlinux                 what qemu boots (PVH entry point)
#   $VM_CACHE/<version>/config                  the kernel's build configuration
#   $VM_CACHE/<version>/lib/modules/<version>/  its modules; the guest mounts them
#                                               at /lib/modules/<version>

# A kernel series named by the package Debian 12 keeps current for it; anything
# else is an exact version (6.1.0-56-amd64), i.e. the package linux-image-VERSION.
kernel_package() {
  case $1 in
    6.1) echo linux-image-amd64 ;;
    6.12) echo linux-image-6.12-amd64 ;;
    *) echo "linux-image-$1" ;;
  esac
}

# The version a series means today: the linux-image-<version> package its
# metapackage depends on. Prints nothing when apt knows no such package.
kernel_version_from_apt() {
  local package; package=$(kernel_package "$1")
  case $1 in
    6.1 | 6.12)
      { apt-cache depends --important "$package" 2>/dev/null || true; } |
        awk '$1 == "Depends:" && $2 ~ /^linux-image-/ { sub(/^linux-image-/, "", $2); print $2; exit }' ;;
    *) if apt-cache show "$package" >/dev/null 2>&1; then echo "$1"; fi ;;
  esac
}

# Resolves a series (6.1, 6.12) or exact version to the version to boot. Asks
# apt first (updating its lists once if they do not know the package); offline,
# the newest version of the series already in the cache. apt-cache takes ~0.7 s,
# a quarter of a boot, so its answer is kept until apt's lists change.
resolve_kernel_version() {
  local series=$1 version memo=$VM_CACHE/resolved-$1
  if [ -s "$memo" ] && [ -z "$(find /var/lib/apt/lists -maxdepth 1 -name '*Packages*' -newer "$memo" -print -quit 2>/dev/null)" ]; then
    version=$(cat "$memo")
    [ -f "$VM_CACHE/$version/.ready" ] && { echo "$version"; return; }
  fi
  version=$(kernel_version_from_apt "$series")
  if [ -z "$version" ] && [ "$(id -u)" = 0 ]; then
    apt-get update -qq >&2 || true
    version=$(kernel_version_from_apt "$series")
  fi
  if [ -z "$version" ]; then
    version=$(find "$VM_CACHE" -mindepth 2 -maxdepth 2 -name .ready -printf '%h\n' 2>/dev/null |
      xargs -r -n1 basename | { grep -E "^${series//./\\.}([.-]|$)" || true; } | sort -V | tail -1)
  fi
  [ -n "$version" ] || die "no kernel for '$series': apt knows no $(kernel_package "$series") and none is cached"
  # linux-image-amd64 follows Debian's default kernel: say so if it moved on.
  case $series in
    6.1 | 6.12) [[ $version == "$series".* ]] || die "$(kernel_package "$series") is $version now, not $series: pass an exact version" ;;
  esac
  mkdir -p "$VM_CACHE" && echo "$version" > "$memo"
  echo "$version"
}

# Unpacks the uncompressed ELF vmlinux from a bzImage. The x86 boot header
# says where the compressed kernel is (payload_offset and payload_length at
# 0x248 and 0x24c, counted from the end of the setup sectors, whose number is
# at 0x1f1); its last 4 bytes are the decompressed size, which we check.
# Booting this ELF through its PVH entry skips the in-guest decompressor,
# about 3 s under TCG.
extract_vmlinux() {
  local image=$1 out=$2 setup_sects offset length start magic decompress size
  setup_sects=$(read_le "$image" $((0x1f1)) 1)
  [ "$setup_sects" = 0 ] && setup_sects=4
  offset=$(read_le "$image" $((0x248)) 4)
  length=$(read_le "$image" $((0x24c)) 4)
  start=$(((setup_sects + 1) * 512 + offset))
  magic=$(od -An -tx1 -j "$start" -N 4 "$image" | tr -d ' \n')
  case $magic in
    fd377a58) decompress='xz -dc' ;;
    28b52ffd) decompress='zstd -dcq' ;;
    1f8b08*) decompress='gzip -dc' ;;
    *) die "$image: unknown compression (payload starts with $magic)" ;;
  esac
  dd if="$image" iflag=skip_bytes,count_bytes skip="$start" count=$((length - 4)) status=none | $decompress > "$out" ||
    die "$image: cannot decompress its payload"
  size=$(read_le "$image" $((start + length - 4)) 4)
  [ "$(stat -c %s "$out")" = "$size" ] && [ "$(head -c 4 "$out" | od -An -tx1 | tr -d ' \n')" = 7f454c46 ] ||
    die "$image: the unpacked payload is not the ${size}-byte ELF the header announces"
}

# A little-endian unsigned integer of $3 bytes at offset $2 of file $1.
read_le() { od -An -t "u$3" -j "$2" -N "$3" "$1" | tr -d ' '; }

# Downloads and unpacks one kernel into $VM_CACHE/<version> unless it is there.
# Holds a lock: two runs preparing the same kernel wait for each other.
prepare_kernel() {
  local version=$1 dir=$VM_CACHE/$1 lock stage
  [ -f "$dir/.ready" ] && return
  mkdir -p "$VM_CACHE"
  exec {lock}> "$VM_CACHE/.lock"
  flock "$lock"
  if [ ! -f "$dir/.ready" ]; then
    # Under the lock no other run is preparing: any stage left is a dead run's.
    rm -rf "$VM_CACHE"/.stage.*
    log "vm: fetching Debian's kernel $version (linux-image-$version, unpacked under $VM_CACHE)"
    stage=$(mktemp -d "$VM_CACHE/.stage.XXXXXX")
    # die exits at once: half a kernel (~500 MB) must not stay behind.
    # shellcheck disable=SC2064 # the path now: $stage is local to this function
    trap "rm -rf '$stage'" EXIT
    # As root, apt would download as the user _apt, who cannot write to this
    # private (0700) directory: Sandbox::User=root keeps it ours.
    if ! (cd "$stage" && apt-get -q=2 -o APT::Sandbox::User=root download "linux-image-$version" >&2); then
      # Lists older than the mirror name a file it no longer has.
      [ "$(id -u)" = 0 ] && apt-get update -qq >&2
      (cd "$stage" && apt-get -q=2 -o APT::Sandbox::User=root download "linux-image-$version" >&2) ||
        die "apt-get download linux-image-$version failed"
    fi
    dpkg-deb -x "$stage"/linux-image-*.deb "$stage/root" || die "cannot unpack linux-image-$version"
    depmod -b "$stage/root" "$version" || die "depmod failed for $version"
    mkdir -p "$stage/kernel/lib/modules"
    mv "$stage/root/lib/modules/$version" "$stage/kernel/lib/modules/"
    mv "$stage/root/boot/config-$version" "$stage/kernel/config"
    extract_vmlinux "$stage/root/boot/vmlinuz-$version" "$stage/kernel/vmlinux"
    touch "$stage/kernel/.ready"
    rm -rf "$dir"
    mv "$stage/kernel" "$dir"
    rm -rf "$stage"
    trap - EXIT
  fi
  flock -u "$lock"
  exec {lock}>&-
}
