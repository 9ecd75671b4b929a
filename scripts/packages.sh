# The Debian packages the project needs, by what needs them. Sourced by
# apt-install.sh; setup.sh installs all of them on a developer's or CI's
# machine, the image's build stage only BUILD, its runtime stage only RUNTIME.
# test/unit/deploy checks RUNTIME against what the daemon links and runs.

# Compiling the BPF objects (clang, llvm) and the addon (node-gyp: make, g++,
# python3; the libbpf, libelf and zlib headers).
BUILD_PACKAGES=(clang llvm libbpf-dev libelf-dev zlib1g-dev pkg-config make g++ python3)

# What the daemon needs at run time, and nothing else: the libraries Node and
# the addon link (libc6, libgcc-s1, libstdc++6; libbpf1, libelf1, zlib1g) and
# the commands the modes run: ip (iproute2: the ebpf mode lists and follows
# interfaces), iptables-restore/-save (iptables: the iptables mode's rules,
# and every mode's removal of KUBE- chains another mode left), conntrack (the
# iptables mode clears UDP flows to removed endpoints), modprobe (kmod: the
# ipvs mode loads ip_vs when the kernel has it as a module, as kube-proxy does),
# ipset (ipset: the sets the ipvs mode's iptables rules match on).
# IPVS itself is spoken over generic netlink by the addon: no ipvsadm, no libnl.
RUNTIME_PACKAGES=(libc6 libgcc-s1 libstdc++6 libbpf1 libelf1 zlib1g iproute2 iptables conntrack kmod ipset)

# The tests and the namespace test cluster (nsenter, curl, ping, bpftool, …),
# tools for looking at a node by hand (ethtool, ipset), ipvsadm, which the
# IPVS tests compare our netlink read-back with, and clang-format (the same
# LLVM as clang), which npm run lint checks the C and C++ sources with.
TEST_PACKAGES=(bpftool util-linux procps iputils-ping curl ethtool ipset ipvsadm clang-format)

# Only to fetch Node 24 and npm from the npm registry on a machine without
# any npm (a fresh Debian, the image's build stage).
BOOTSTRAP_PACKAGES=(npm)
