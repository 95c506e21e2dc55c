#!/usr/bin/env bash
# check_cgroup_v2.sh (make check-cgroup-v2): the grader's cgroup v2 path
# (tools/raftlab/run/cgroups.py), run for real in a small VM, whatever the
# host's own cgroups are (a host with v1 hierarchies never takes that path,
# and the host's cgroups are never touched).
#
# The VM: Debian's kernel (the linux-image-*-amd64 that linux-image-amd64
# stands for today, from apt-get download, never installed) and
# busybox-static, both cached in $RAFTLAB_VM_CACHE (default
# ~/.cache/raftlab-vm); an initramfs made here of busybox and the kernel
# modules that mount the host's root filesystem, shared read-only over 9p
# by qemu, under a RAM-backed overlay, so that the VM runs the host's
# python3, gcc, bubblewrap and this tree, and writes only to its own RAM.
# In it (this script again, with --in-vm, as the VM's first process): only
# cgroup2 mounted, at /sys/fs/cgroup, then checks/check_cgroup_v2_in_vm.py
# (what it checks is in its docstring). Its exit status comes back through
# a second, writable 9p share.
#
# The VM runs under KVM where /dev/kvm can boot Debian's kernel, else under
# qemu's own emulation (TCG: about 100 s in all on 2 cores, the kernel cached);
# RAFTLAB_VM_ACCEL=kvm or tcg chooses. With no qemu-system-x86_64, not on
# x86-64, or not on Debian (no apt-get to fetch the kernel), it says so in
# one line and exits 0.
set -euo pipefail
cd "$(dirname "$0")/.."

say() { echo "check_cgroup_v2: $*"; }

# ---- in the VM: the first process of the new root --------------------------
if [ "${1:-}" = --in-vm ]; then
    # The first process must not end before the VM does (the kernel would
    # panic): whatever happens, the status goes back and the VM powers off.
    trap 'status=$?; echo "$status" >/raftlab-vm/out/status; sync; echo o >/proc/sysrq-trigger; sleep 60' EXIT
    mount -t proc proc /proc
    mount -t sysfs sysfs /sys
    mount -t cgroup2 cgroup2 /sys/fs/cgroup   # v2 only: the kernel also has cgroup_no_v1=all
    mount -t devtmpfs devtmpfs /dev
    mkdir -p /dev/pts /dev/shm
    mount -t devpts devpts /dev/pts
    mount -t tmpfs tmpfs /dev/shm
    mount -t tmpfs tmpfs /tmp
    mount -t tmpfs tmpfs /run
    ip link set lo up 2>/dev/null || true
    export PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin HOME=/root LANG=C.UTF-8
    cd /raftlab-vm/repo
    PYTHONPATH=tools python3 -u checks/check_cgroup_v2_in_vm.py
    exit
fi

# ---- on the host ------------------------------------------------------------
start=$(date +%s)
[ "$(uname -m)" = x86_64 ] || { say "skipped: the VM is x86-64 and this machine is $(uname -m)"; exit 0; }
command -v qemu-system-x86_64 >/dev/null 2>&1 ||
    { say "skipped: no qemu-system-x86_64 (Debian: apt-get install qemu-system-x86)"; exit 0; }
# KVM where it can boot Debian's kernel; else qemu's own emulation (TCG), several times slower.
# A /dev/kvm of kvm_pvm (nested virtualization without VT-x or AMD-V: some cloud sandboxes)
# boots only kernels built as PVM guests: Debian's hangs there before its first line.
if [ -n "${RAFTLAB_VM_ACCEL:-}" ]; then
    accel=$RAFTLAB_VM_ACCEL
    accel_why="RAFTLAB_VM_ACCEL=$accel"
elif [ ! -r /dev/kvm ] || [ ! -w /dev/kvm ]; then
    accel=tcg
    accel_why="no usable /dev/kvm"
elif [ -d /sys/module/kvm_pvm ]; then
    accel=tcg
    accel_why="/dev/kvm is kvm_pvm's, which boots only PVM guest kernels"
else
    accel=kvm
    accel_why="/dev/kvm"
fi
case $accel in
    kvm) cpu=host ;;
    tcg) cpu=max ;;
    *) say "FAILED: RAFTLAB_VM_ACCEL is kvm or tcg, not $accel"; exit 1 ;;
esac
if ! command -v apt-get >/dev/null 2>&1 || ! command -v dpkg >/dev/null 2>&1; then
    say "skipped: no apt-get and dpkg to fetch Debian's kernel and busybox-static"; exit 0
fi

repo=$(pwd -P)
cache=${RAFTLAB_VM_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/raftlab-vm}
mkdir -p "$cache"
tmp=$(mktemp -d "${TMPDIR:-/tmp}/check-cgroup-v2.XXXXXX")
qemu_pidfile=$tmp/qemu.pid
stop_vm() {
    # the VM of this check only, by the pid qemu wrote
    if [ -s "$qemu_pidfile" ]; then
        pid=$(cat "$qemu_pidfile")
        if [ -r "/proc/$pid/cmdline" ] && tr '\0' ' ' <"/proc/$pid/cmdline" | grep -q -- "$tmp"; then
            kill -9 "$pid" 2>/dev/null || true
        fi
    fi
    rm -rf "$tmp"
}
trap stop_vm EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# The candidate version of a package, as apt would install it today.
candidate() { { apt-cache policy "$1" 2>/dev/null || true; } | awk '$1 == "Candidate:" { print $2 }'; }

# Downloads a package into a new directory and unpacks it there (not installed).
fetch_and_unpack() {   # package, directory
    local sandbox_user=()
    [ "$(id -u)" != 0 ] || sandbox_user=(-o APT::Sandbox::User=root)   # else apt warns it cannot drop to _apt here
    mkdir -p "$2/deb"
    (cd "$2/deb" && apt-get download -qq "${sandbox_user[@]}" "$1")
    dpkg -x "$2"/deb/*.deb "$2/root"
}

# What is cached of a package (one version at most), for when apt knows nothing (offline, no lists).
cached() { find "$cache" -mindepth 1 -maxdepth 1 -name "$1_*" ! -name "*.new" | head -n 1; }

# busybox-static: the initramfs's shell and tools, and depmod for the kernel's modules.
busybox_version=$(candidate busybox-static)
if [ -z "$busybox_version" ] || [ "$busybox_version" = "(none)" ]; then
    busybox_dir=$(cached busybox-static)
    [ -n "$busybox_dir" ] || { say "FAILED: apt knows no busybox-static (apt-get update?)"; exit 1; }
else
    busybox_dir=$cache/busybox-static_${busybox_version//:/_}
fi
if [ ! -x "$busybox_dir/busybox" ]; then
    say "fetching busybox-static $busybox_version into $cache"
    fetch_and_unpack busybox-static "$tmp/busybox"
    rm -rf "$(cached busybox-static)"   # only the version in use stays cached
    mkdir -p "$busybox_dir"
    cp "$tmp/busybox/root/bin/busybox" "$busybox_dir/busybox"
    rm -rf "$tmp/busybox"
fi
busybox=$busybox_dir/busybox

# The kernel linux-image-amd64 depends on today (linux-image-6.1.0-N-amd64 in bookworm).
kernel_package=$({ apt-cache depends linux-image-amd64 2>/dev/null || true; } |
                 awk '$1 == "Depends:" && $2 ~ /^linux-image-[0-9]/ { print $2; exit }')
if [ -n "$kernel_package" ]; then
    kernel_version=$(candidate "$kernel_package")
    kernel_dir=$cache/${kernel_package}_${kernel_version//:/_}
else
    kernel_dir=$(cached "linux-image-*")
    [ -n "$kernel_dir" ] || { say "FAILED: apt knows no linux-image-amd64 (apt-get update?)"; exit 1; }
    kernel_package=${kernel_dir##*/}
    kernel_version="${kernel_package#*_} (cached)"
    kernel_package=${kernel_package%%_*}
fi
# What mounts the host's root in the VM: 9p over virtio (virtio_pci, 9pnet_virtio, 9p) under overlayfs.
modules_wanted=(virtio_pci 9pnet_virtio 9p overlay)
if [ ! -f "$kernel_dir/release" ]; then
    say "fetching $kernel_package $kernel_version into $cache"
    fetch_and_unpack "$kernel_package" "$tmp/kernel"
    root=$tmp/kernel/root
    release=$(ls "$root/lib/modules")
    "$busybox" depmod -b "$root" "$release"   # the package has no modules.dep: depmod makes it at install
    rm -rf "$kernel_dir.new"
    mkdir -p "$kernel_dir.new/modules"
    cp "$root/boot/vmlinuz-$release" "$kernel_dir.new/vmlinuz"
    # Each wanted module that is not built in, with the modules it needs (modules.dep lists them all).
    for module in "${modules_wanted[@]}"; do
        line=$(grep -E "/$module\.ko(\.[a-z]+)?:" "$root/lib/modules/$release/modules.dep" || true)
        if [ -z "$line" ]; then
            grep -qE "/$module\.ko$" "$root/lib/modules/$release/modules.builtin" ||
                { say "FAILED: $kernel_package has no module $module"; exit 1; }
            continue
        fi
        for file in ${line/:/}; do   # the module, then each it needs, each with its own line
            grep -E "^$file:" "$root/lib/modules/$release/modules.dep" >>"$kernel_dir.new/modules.dep"
            dest=$kernel_dir.new/modules/$release/$file
            mkdir -p "$(dirname "$dest")"
            cp "$root/lib/modules/$release/$file" "$dest"
        done
    done
    # busybox's modprobe loads plain .ko files: a compressed module is decompressed here.
    find "$kernel_dir.new/modules" -name '*.ko.xz' -exec "$busybox" unxz {} +
    find "$kernel_dir.new/modules" -name '*.ko.gz' -exec "$busybox" gunzip {} +
    if find "$kernel_dir.new/modules" -name '*.ko.*' | grep -q .; then
        say "FAILED: $kernel_package's modules are compressed in a way busybox cannot undo"; exit 1
    fi
    sed -E 's/\.ko\.[a-z]+/.ko/g' "$kernel_dir.new/modules.dep" | sort -u >"$kernel_dir.new/modules/$release/modules.dep"
    rm "$kernel_dir.new/modules.dep"
    echo "$release" >"$kernel_dir.new/release"
    rm -rf "$kernel_dir" "$tmp/kernel"
    mv "$kernel_dir.new" "$kernel_dir"
    # Only the kernel in use stays cached.
    for old in "$cache"/linux-image-*; do
        [ "$old" = "$kernel_dir" ] || rm -rf "$old"
    done
fi
release=$(cat "$kernel_dir/release")

# ---- the initramfs: busybox, the modules, and /init ----------------------------
initramfs=$tmp/initramfs
mkdir -p "$initramfs/bin" "$initramfs/lib/modules"
cp "$busybox" "$initramfs/bin/busybox"
cp -r "$kernel_dir/modules/$release" "$initramfs/lib/modules/"
printf 'repo=%q\nmodules=%q\nexport RAFTLAB_VM_ACCEL=%q\n' "$repo" "${modules_wanted[*]}" "$accel" \
    >"$initramfs/raftlab-vm.env"
cat >"$initramfs/init" <<'EOF'
#!/bin/busybox sh
/bin/busybox --install -s /bin
export PATH=/bin
fail() { echo "check_cgroup_v2: FAILED in the VM's initramfs: $*"; poweroff -f; }
mkdir -p /proc /sys /dev /host /rw /newroot
mount -t proc proc /proc && mount -t sysfs sysfs /sys && mount -t devtmpfs devtmpfs /dev || fail "mounts"
. /raftlab-vm.env
modprobe -a $modules || fail "modprobe $modules"
# The host's root read-only (its page cache kept: nothing changes it under the VM), under an overlay in RAM.
mount -t 9p -o trans=virtio,version=9p2000.L,ro,cache=loose,msize=512000 hostroot /host || fail "9p root"
mount -t tmpfs -o mode=0755 tmpfs /rw && mkdir -p /rw/upper /rw/work || fail "tmpfs"
mount -t overlay -o lowerdir=/host,upperdir=/rw/upper,workdir=/rw/work overlay /newroot || fail "overlay"
# The tree where the VM's /tmp (a tmpfs) does not hide it, and the share the status goes back through.
mkdir -p /newroot/raftlab-vm/repo /newroot/raftlab-vm/out
mount --bind "/newroot$repo" /newroot/raftlab-vm/repo || fail "bind $repo"
mount -t 9p -o trans=virtio,version=9p2000.L out /newroot/raftlab-vm/out || fail "9p out"
umount /proc /sys /dev
exec switch_root /newroot /bin/bash /raftlab-vm/repo/checks/check_cgroup_v2.sh --in-vm
EOF
chmod +x "$initramfs/init"
(cd "$initramfs" && find . | "$busybox" cpio -o -H newc 2>/dev/null) >"$tmp/initramfs.cpio"

# ---- the VM -----------------------------------------------------------------
# The lab as the grader builds it (make raft-bin), here, where it is fast: in the VM
# make finds it up to date.
make -s -j"$(nproc)" RAFT=raft raft-bin >/dev/null || { say "FAILED: make raft-bin"; exit 1; }
mkdir "$tmp/out"
cpus=$(nproc)
[ "$cpus" -le 4 ] || cpus=4
say "booting $kernel_package $kernel_version ($release) with $accel ($accel_why), $cpus CPU(s), 2 GiB, the host's root read-only over 9p"
# The kernel: no cgroup v1 (cgroup_no_v1=all: only v2 can be mounted); transparent huge pages
# only where asked for, as on most hosts: with Debian's default (always), memory_hog, which
# writes one byte per MiB, gets a 2 MiB page for each and holds as much RAM as address space,
# so that the cgroup's RAM limit acts before the address-space limit its header expects.
# timeout: a VM that hangs is killed (its first process powers it off when the checks end).
# In the background, waited for: an interrupt ends this script at once, and stop_vm the VM.
{ timeout -k 10 900 qemu-system-x86_64 \
    -machine "accel=$accel" -cpu "$cpu" -smp "$cpus" -m 2048 \
    -nodefaults -no-user-config -display none -serial stdio -no-reboot -pidfile "$qemu_pidfile" \
    -kernel "$kernel_dir/vmlinuz" -initrd "$tmp/initramfs.cpio" \
    -append "console=ttyS0 quiet loglevel=3 panic=-1 cgroup_no_v1=all transparent_hugepage=madvise" \
    -virtfs "local,path=/,mount_tag=hostroot,security_model=none,readonly=on,multidevs=remap" \
    -virtfs "local,path=$tmp/out,mount_tag=out,security_model=none" \
    </dev/null; echo "$?" >"$tmp/qemu.status"; } | tr -d '\r' &
wait $!
took=$(( $(date +%s) - start ))
if [ ! -s "$tmp/out/status" ]; then
    say "FAILED: the VM ended without a status (qemu's exit status $(cat "$tmp/qemu.status"), 124: timed out) after $took s"
    exit 1
fi
status=$(cat "$tmp/out/status")
if [ "$status" != 0 ]; then
    say "FAILED: the checks in the VM exited $status ($took s in all)"
    exit 1
fi
say "passed ($took s in all)"
