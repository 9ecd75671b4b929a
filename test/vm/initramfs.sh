# shellcheck shell=bash
# The test VM's initramfs: a static busybox, the few modules the kernel needs
# to reach the shared filesystems (virtio PCI and console, 9p, overlay), and
# our two guest scripts, test/vm/init (PID 1 until switch_root) and
# test/vm/guest.sh (PID 1 after it). Kept tiny and in busybox on purpose: under
# TCG every exec of a dynamic binary from the 9p root costs 30-100 ms, a
# busybox applet almost nothing. Sourced by test/vm/run.sh, not executed.

# Modules needed before the root is mounted, by name; modprobe adds their
# dependencies in load order. Those built into a kernel are skipped.
INITRAMFS_MODULES=(virtio_pci virtio_console 9pnet_virtio 9p overlay)

# Prints the path of the kernel's initramfs, building it when its inputs
# (the guest scripts, busybox, the module list) changed since the cached one.
build_initramfs() {
  local version=$1 dir=$VM_CACHE/$1 here key out stage ko rel
  here=$(dirname "${BASH_SOURCE[0]}")
  key=$({ cat "$here/init" "$here/guest.sh" /bin/busybox; echo "${INITRAMFS_MODULES[*]}"; } | sha256sum | cut -c1-16)
  out=$dir/initramfs-$key.cpio
  if [ ! -s "$out" ]; then
    # Builds are not locked (each is its own directory): only old leftovers go.
    find "$VM_CACHE" -maxdepth 1 -name '.initramfs.*' -mmin +60 -exec rm -rf {} +
    stage=$(mktemp -d "$VM_CACHE/.initramfs.XXXXXX")
    # shellcheck disable=SC2064 # the path now: $stage is local to this function
    trap "rm -rf '$stage' '$stage.cpio'" EXIT
    mkdir -p "$stage"/{bin,dev,proc,sys,etc,lib/modules,host,control,rw,newroot}
    # busybox picks the applet by the name it is called with: keep "busybox".
    cp /bin/busybox "$stage/bin/busybox"
    cp "$here/init" "$stage/init"
    cp "$here/guest.sh" "$stage/guest.sh"
    chmod 755 "$stage/init"
    : > "$stage/etc/modules"
    for ko in $(modprobe -d "$dir" -S "$version" --show-depends -a "${INITRAMFS_MODULES[@]}" |
      awk '$1 == "insmod" && !seen[$2]++ { print $2 }'); do
      # busybox insmod takes plain .ko files; 6.12 ships them xz-compressed.
      rel=$(basename "$ko")
      rel=${rel%.xz}
      rel=${rel%.zst}
      case $ko in
        *.xz) xz -dc "$ko" ;;
        *.zst) zstd -dcq "$ko" ;;
        *) cat "$ko" ;;
      esac > "$stage/lib/modules/$rel" || die "cannot unpack $ko"
      echo "$rel" >> "$stage/etc/modules"
    done
    (cd "$stage" && find . | cpio -o -H newc --quiet) > "$stage.cpio" || die "cpio failed"
    rm -rf "$stage"
    mv "$stage.cpio" "$out"
    trap - EXIT
  fi
  # Another checkout may boot an older one right now: only those unused for a
  # day go.
  touch "$out"
  find "$dir" -maxdepth 1 -name 'initramfs-*.cpio' ! -newer "$out" -mmin +1440 -delete
  echo "$out"
}
